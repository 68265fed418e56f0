"""The `rgym view` web app: Starlette routes over a :class:`Site`.

Security, because run content is hostile input: runs are addressed only by the ids the folder
walk gave them (an unknown id is a 404, whatever it spells); a run's files are read through
:mod:`rgym.viewer.safe_files` (no ``..``, no absolute path, no link followed); every response
carries a Content-Security-Policy without inline script; raw files are served as plain text
(or bytes) with ``nosniff`` and a sandboxing policy, never as HTML; and when the server is on
loopback, requests naming another host are refused (a DNS-rebinding page cannot read runs).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rgym.viewer import safe_files
from rgym.viewer.artifacts import is_binary
from rgym.viewer.filters import RunFilter
from rgym.viewer.links import Links
from rgym.viewer.live import KEEPALIVE_SECONDS, POLL_SECONDS, EventTail, sse
from rgym.viewer.site import CSP, Site

RAW_LIMIT = 64 << 20
RUNS_POLL_SECONDS = 2.0
RAW_CSP = "sandbox; default-src 'none'"
RUN_FILES = ("manifest.json", "result.json", "events.jsonl", "results.json")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the security headers to every response (a route's own CSP wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def static_files() -> dict[str, tuple[bytes, str]]:
    """The assets, from the package (and plotly.js from the plotly package): no CDN."""
    from pygments.formatters import HtmlFormatter

    folder = resources.files("rgym.viewer") / "static"
    out: dict[str, tuple[bytes, str]] = {}
    for item in folder.iterdir():
        kind = {".js": "text/javascript", ".css": "text/css"}.get(Path(item.name).suffix)
        if kind:
            out[item.name] = (item.read_bytes(), f"{kind}; charset=utf-8")
    out["plotly.min.js"] = (plotly_js(), "text/javascript; charset=utf-8")
    css = HtmlFormatter(style="default").get_style_defs(".hl")
    out["pygments.css"] = (css.encode(), "text/css; charset=utf-8")
    return out


def plotly_js() -> bytes:
    """plotly.min.js as shipped inside the plotly Python package.

    Raises:
        RuntimeError: plotly is not installed (``pip install rgym[view]``).
    """
    try:
        return (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise RuntimeError(
            "rgym view needs plotly (it serves the plotly.min.js the package ships); "
            "install it with `pip install 'rgym[view]'`"
        ) from e


def warm_up() -> None:
    """Load what a first run page needs (pygments' lexer table takes most of a second), so
    the first page opened is as quick as the next."""
    from pygments.lexers import get_lexer_for_filename

    get_lexer_for_filename("warm.py")


def _page(html: str | None, site: Site, links: Links, what: str) -> HTMLResponse:
    if html is None:
        return HTMLResponse(site.not_found_page(links, what), status_code=404)
    return HTMLResponse(html)


def create_app(
    site: Site, *, allowed_hosts: list[str] | None = None, stopping: threading.Event | None = None
) -> Starlette:
    """The app serving ``site``. ``allowed_hosts``: Host headers accepted (None: any);
    ``stopping``: set it to end open live streams (the server sets it on shutdown)."""
    links = Links()
    assets = static_files()
    stop = stopping or threading.Event()
    threading.Thread(target=warm_up, daemon=True).start()

    def not_found(what: str) -> HTMLResponse:
        return HTMLResponse(site.not_found_page(links, what), status_code=404)

    def runs(request: Request) -> HTMLResponse:
        return HTMLResponse(site.runs_page(links, RunFilter.from_params(request.query_params)))

    def run(request: Request) -> HTMLResponse:
        try:
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            page = 0
        html = site.run_page(links, request.path_params["run_id"], page)
        return _page(html, site, links, "No run with this id (or no such page) is served here.")

    def compare(request: Request) -> HTMLResponse:
        a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
        html = site.compare_page(links, a, b) if a and b else None
        return _page(html, site, links, "Compare needs two served runs: /compare?a=ID&b=ID.")

    def leaderboard(request: Request) -> HTMLResponse:
        return HTMLResponse(
            site.leaderboard_page(links, RunFilter.from_params(request.query_params))
        )

    def runs_json(request: Request) -> JSONResponse:
        catalog = site.catalog()
        return JSONResponse(
            {
                "roots": [str(r) for r in site.roots],
                "runs": [r.to_json() for r in site.rows(catalog)],
                "batches": [
                    {
                        "id": b.id,
                        "name": b.name,
                        "created": b.created,
                        "path": str(b.path),
                        "runs": b.runs,
                        "cells": len(b.cells),
                    }
                    for b in catalog.batches.values()
                ],
                "warnings": catalog.warnings,
            }
        )

    def run_json(request: Request) -> Response:
        ref = site.find(request.path_params["run_id"])
        if ref is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        return JSONResponse(run_record(site, ref))

    def leaderboard_json(request: Request) -> Response:
        board, _ = site.leaderboard(RunFilter.from_params(request.query_params))
        if board.error:
            return JSONResponse({"error": board.error}, status_code=404)
        return Response(board.report_json, media_type="application/json")

    def raw(request: Request) -> Response:
        ref = site.find(request.path_params["run_id"])
        rel = request.path_params["rel"]
        allowed = (
            rel in RUN_FILES
            or rel.startswith("artifact/")
            or (
                ref is not None and ref.kind == "mlgym" and rel.endswith(".traj") and "/" not in rel
            )
        )
        if ref is None or not allowed:
            return not_found("No such file in a served run.")
        try:
            data, _ = safe_files.read_bytes(ref.path, rel, RAW_LIMIT)
        except safe_files.OutsideRun:
            return not_found("No such file in a served run (links are never followed).")
        binary = is_binary(data)
        name = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(rel).name)
        return Response(
            data,
            media_type="application/octet-stream" if binary else "text/plain; charset=utf-8",
            headers={
                "content-security-policy": RAW_CSP,
                "content-disposition": f'{"attachment" if binary else "inline"}; filename="{name}"',
            },
        )

    async def live_run(request: Request) -> Response:
        ref = site.find(request.path_params["run_id"])
        if ref is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        # a reconnecting EventSource says what it has seen: that wins over the page's number
        after = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
        tail = EventTail(ref.path, int(after) if after.isdigit() else 0)

        async def stream():
            yield "retry: 1000\n\n"
            beat = time.monotonic()
            while not stop.is_set():
                done = tail.finished()
                for message in tail.poll():
                    yield sse(message, event_id=message["facts"].get("seq"))
                    beat = time.monotonic()
                if done:
                    yield sse({}, event="finished")
                    return
                if time.monotonic() - beat > KEEPALIVE_SECONDS:
                    yield ": keep-alive\n\n"
                    beat = time.monotonic()
                await asyncio.sleep(POLL_SECONDS)

        return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)

    async def live_runs(request: Request) -> Response:
        seen = request.query_params.get("since", "")

        async def stream():
            nonlocal seen
            yield "retry: 2000\n\n"
            while not stop.is_set():
                now = await run_in_threadpool(site.signature)
                if seen and now != seen:
                    yield sse({"signature": now}, event="changed")
                seen = now
                for _ in range(int(RUNS_POLL_SECONDS / POLL_SECONDS)):
                    if stop.is_set():
                        return
                    await asyncio.sleep(POLL_SECONDS)

        return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)

    def static(request: Request) -> Response:
        item = assets.get(request.path_params["name"])
        if item is None:
            return not_found("No such asset.")
        return Response(item[0], media_type=item[1], headers={"cache-control": "max-age=600"})

    routes = [
        Route("/", runs),
        Route("/run/{run_id}", run),
        Route("/run/{run_id}/raw/{rel:path}", raw),
        Route("/compare", compare),
        Route("/leaderboard", leaderboard),
        Route("/api/runs.json", runs_json),
        Route("/api/run/{run_id}.json", run_json),
        Route("/api/leaderboard.json", leaderboard_json),
        Route("/live/run/{run_id}", live_run),
        Route("/live/runs", live_runs),
        Route("/static/{name}", static),
    ]
    middleware = [Middleware(SecurityHeaders)]
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    app = Starlette(routes=routes, middleware=middleware)

    async def unknown(request: Request, exc: Exception) -> HTMLResponse:
        return not_found("Nothing is served at this address.")

    app.add_exception_handler(404, unknown)
    app.state.site = site
    app.state.stopping = stop
    return app


SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def run_record(site: Site, ref: Any) -> dict[str, Any]:
    """A run's summary with its manifest and result (the run's JSON in the API and export)."""

    def load(name: str) -> Any:
        try:
            return json.loads(safe_files.read_text(ref.path, name))
        except (safe_files.OutsideRun, json.JSONDecodeError):
            return None

    from rgym.viewer.leaderboard import clean

    return clean(
        {
            "summary": site.summaries.get(ref).to_json(),
            "manifest": load("manifest.json"),
            "result": load("result.json") if ref.kind == "rgym" else load("results.json"),
        }
    )
