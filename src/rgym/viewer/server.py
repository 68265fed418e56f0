"""Serve the viewer with uvicorn on a socket bound here, so the port is known (``--port 0``
picks a free one) and a port in use is a clear error before anything starts."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from rgym.listen import bind, is_loopback
from rgym.viewer.app import create_app
from rgym.viewer.site import Site


def allowed_hosts(host: str) -> list[str] | None:
    """Host headers to accept: on loopback only loopback names (DNS rebinding cannot reach the
    server under another name); elsewhere any (the user chose to expose it)."""
    return ["127.0.0.1", "localhost"] if is_loopback(host) and ":" not in host else None


class _Server(uvicorn.Server):
    """uvicorn's server, which also ends the open live streams when asked to stop (they would
    otherwise hold a Ctrl-C up for the graceful-shutdown timeout)."""

    def __init__(self, config: uvicorn.Config, stopping: threading.Event) -> None:
        super().__init__(config)
        self.stopping = stopping

    def handle_exit(self, sig: int, frame: object) -> None:
        self.stopping.set()
        super().handle_exit(sig, frame)


@dataclass
class Viewer:
    """A running viewer: its URL, and how to stop it."""

    url: str
    server: uvicorn.Server
    stopping: threading.Event
    thread: threading.Thread | None = None

    def stop(self) -> None:
        self.stopping.set()
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)


def make_server(site: Site, host: str, port: int) -> tuple[Viewer, socket.socket]:
    sock = bind(host, port)
    stopping = threading.Event()
    app = create_app(site, allowed_hosts=allowed_hosts(host), stopping=stopping)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        lifespan="off",
    )
    server = _Server(config, stopping)
    real_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return Viewer(f"http://{shown}:{real_port}/", server, stopping), sock


def serve(site: Site, host: str, port: int, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C. ``on_ready`` gets the URL once the socket is listening."""
    viewer, sock = make_server(site, host, port)
    if on_ready is not None:
        on_ready(viewer.url)
    try:
        viewer.server.run(sockets=[sock])
    finally:
        viewer.stopping.set()
        sock.close()


def start_in_thread(site: Site, host: str = "127.0.0.1", port: int = 0) -> Viewer:
    """Serve from a background thread (tests, benchmarks, screenshots); ``stop()`` ends it."""
    viewer, sock = make_server(site, host, port)
    viewer.thread = threading.Thread(
        target=viewer.server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    viewer.thread.start()
    for _ in range(500):
        if viewer.server.started:
            break
        threading.Event().wait(0.01)
    return viewer
