"""The gate every request passes before it reaches an episode: host, origin, token, size.

- Host: on a loopback bind only loopback names are accepted, so a web page cannot reach the
  server by rebinding its own DNS name to 127.0.0.1.
- Origin: a browser sends one; a request whose Origin is not the server itself is refused, so
  a page the user visits cannot open a WebSocket (which browsers do not hold to CORS) and run
  commands in a sandbox. Trainers and `curl` send none.
- Token: with `--token`, every request carries it as `Authorization: Bearer <token>`; a
  WebSocket may pass `?token=<token>` instead (some clients cannot set headers). Compared in
  constant time.
- Size: a request body larger than `max_body` bytes is refused with 413 before it is read whole.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(Exception):
    pass


def host_name(value: str) -> str:
    """The name in a Host header or an origin's netloc, without the port or IPv6 brackets."""
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """ASGI middleware in front of the whole app (HTTP and WebSocket alike)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        allowed_hosts: list[str] | None,
        max_body: int,
    ) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.allowed_hosts = allowed_hosts
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self.refusal(scope, headers)
        if refusal is not None:
            await refuse(scope, receive, send, *refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await refuse(scope, receive, send, 413, self._too_large())
            return
        await self._limited(scope, receive, send)

    def refusal(self, scope: Scope, headers: Headers) -> tuple[int, str] | None:
        """(status, message) when the request must not go further."""
        host = host_name(headers.get("host", ""))
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            return 421, (
                f"Host {host!r} is not this server's: on loopback it answers to "
                f"{', '.join(self.allowed_hosts)} only"
            )
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != headers.get("host"):
            return 403, f"cross-origin request (Origin: {origin}) refused"
        if self.token is not None:
            presented = bearer(headers)
            if presented is None and scope["type"] == "websocket":
                query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                presented = (query.get("token") or [None])[0]
            if presented is None:
                return 401, (
                    "this server needs a token: send 'Authorization: Bearer <token>' (a "
                    "WebSocket may add ?token=<token> to its URL instead)"
                )
            if not hmac.compare_digest(presented.encode(), self.token):
                return 401, "wrong token"
        return None

    def _too_large(self) -> str:
        return f"request body larger than {self.max_body} bytes"

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass a request on, counting the body it streams (chunked bodies have no length)."""
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await refuse(scope, receive, send, 413, self._too_large())


def bearer(headers: Headers) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    """Answer with `status` and a JSON `detail`. A WebSocket is refused at its handshake, which
    a client sees as HTTP 403 (uvicorn's denial responses with another status log a spurious
    error), with the message as the close reason."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    body = json.dumps({"detail": message, "status": status}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
