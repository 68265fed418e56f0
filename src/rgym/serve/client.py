"""`RemoteEnv`: an episode on an `rgym serve` server, as a Gymnasium env.

It speaks OpenEnv's WebSocket protocol (one connection, one episode), so the server closes the
episode and its sandbox the moment this process closes the env, exits or dies. Only
`websockets` is needed here, not openenv-core.

    env = RemoteEnv("http://127.0.0.1:8000", "battle-of-sexes")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("validate")
    env.close()
"""

from __future__ import annotations

import json
import os
from typing import Any

import gymnasium
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from rgym.env import MAX_TEXT
from rgym.serve.errors import (
    AtCapacity,
    ConnectionLost,
    ServeError,
    Unauthorized,
    from_payload,
)
from rgym.spaces import ActionText, AnyText

CAPACITY_CLOSE_CODE = 1013
"""The close code (try again later) of a connection refused at --max-episodes."""
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Largest reply accepted: an observation is at most about a megabyte of text, escaped."""


def websocket_url(url: str) -> str:
    """`http://host:port` (or ws://…, with or without /ws) → `ws://host:port/ws`."""
    url = url.rstrip("/")
    if url.startswith("http://") or url.startswith("https://"):
        url = "ws" + url.removeprefix("http")
    elif not url.startswith(("ws://", "wss://")):
        url = f"ws://{url}"
    return url if url.endswith("/ws") else f"{url}/ws"


class RemoteEnv(gymnasium.Env[str, str]):
    """The same reset/step/close as `rgym.make(task, variant=...)`, run by a server.

    Args:
        url: The server (`http://127.0.0.1:8000`, as `rgym serve` prints it).
        task: Task id; the server must serve it.
        variant: Task variant.
        token: The server's token, if it has one (default: `$RGYM_SERVE_TOKEN`).
        max_steps: Step budget (default: the task's).
        timeout: Seconds to wait for one reply (a step runs up to the task's command timeout;
            `submit` grades).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        url: str,
        task: str,
        variant: str = "default",
        token: str | None = None,
        max_steps: int | None = None,
        timeout: float = 900.0,
        render_mode: str | None = None,
    ) -> None:
        self.url = websocket_url(url)
        self.task = task
        self.variant = variant
        self.token = token if token is not None else os.environ.get("RGYM_SERVE_TOKEN")
        self.max_steps = max_steps
        self.timeout = timeout
        self.render_mode = render_mode
        self.observation_space = AnyText(max_length=MAX_TEXT)
        self.action_space = ActionText(max_length=MAX_TEXT)
        self.episode_id: str | None = None
        self._ws: ClientConnection | None = None
        self._last_obs = ""

    # --- Gymnasium ---------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """As `ResearchEnv.reset`: `options` is accepted and ignored."""
        super().reset(seed=seed)
        data: dict[str, Any] = {"task": self.task, "variant": self.variant}
        if seed is not None:
            data["seed"] = seed
        if self.max_steps is not None:
            data["max_steps"] = self.max_steps
        observation = self._request({"type": "reset", "data": data})["observation"]
        self.episode_id = observation["episode_id"]
        self._last_obs = observation["text"]
        return observation["text"], observation["info"]

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        reply = self._request({"type": "step", "data": {"command": action}})
        observation = reply["observation"]
        self._last_obs = observation["text"]
        return (
            observation["text"],
            float(reply["reward"]),
            bool(observation["terminated"]),
            bool(observation["truncated"]),
            observation["info"],
        )

    def state(self) -> dict[str, Any]:
        """The server's view of the episode (task, steps, finished, exit status)."""
        return self._request({"type": "state"})

    def render(self) -> str | None:
        return self._last_obs if self.render_mode == "ansi" else None

    def close(self) -> None:
        """Ends the episode on the server (its sandbox is removed)."""
        if self._ws is not None:
            try:
                self._ws.send(json.dumps({"type": "close"}))
            except ConnectionClosed:
                pass
            self._drop()
        super().close()

    # --- the wire ------------------------------------------------------------------------------

    def _connect(self) -> ClientConnection:
        if self._ws is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
            try:
                # entered as a context manager: websockets >= 17.1 wants it so
                self._ws = connect(
                    self.url,
                    additional_headers=headers,
                    max_size=MAX_MESSAGE_BYTES,
                    open_timeout=30,
                    proxy=None,
                ).__enter__()
            except InvalidStatus as e:
                status = e.response.status_code
                body = e.response.body.decode("utf-8", "replace") if e.response.body else ""
                if status in (401, 403):
                    raise Unauthorized(
                        f"{self.url} refused the connection (HTTP {status}): "
                        f"{body or 'no token or a wrong one (or a cross-origin request)'}"
                    ) from None
                raise ServeError(
                    f"{self.url} refused the connection (HTTP {status}) {body}"
                ) from None
            except OSError as e:
                raise ServeError(f"cannot connect to {self.url}: {e}") from None
        return self._ws

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        ws = self._connect()
        try:
            ws.send(json.dumps(message))
            reply = json.loads(ws.recv(timeout=self.timeout))
        except ConnectionClosed as e:
            self._ws = None
            reason = e.rcvd.reason if e.rcvd is not None else ""
            if e.rcvd is not None and e.rcvd.code == CAPACITY_CLOSE_CODE:
                raise AtCapacity(reason or "server at capacity") from None
            raise ConnectionLost(
                f"the server closed the connection{f': {reason}' if reason else ''}; the "
                "episode is gone (reset to start a new one)"
            ) from None
        except TimeoutError:
            self._drop()  # a late reply would answer the next request
            raise ServeError(
                f"no reply from {self.url} within {self.timeout:g} s; the connection (and the "
                "episode) was dropped"
            ) from None
        if reply.get("type") == "error":
            error = from_payload(reply.get("data") or {})
            if isinstance(error, ConnectionLost | AtCapacity):  # the server hangs up after these
                self._drop()
            raise error
        return reply["data"]

    def _drop(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None
