"""Run the app with uvicorn on a socket bound here, so the port is known before anything
starts (`--port 0` picks a free one) and a port in use is a clear error."""

from __future__ import annotations

import gc
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from uvicorn.logging import DefaultFormatter

from rgym.errors import RgymError
from rgym.listen import bind
from rgym.serve.app import MAX_MESSAGE_BYTES, create_app
from rgym.serve.config import ServeConfig
from rgym.serve.episodes import EpisodeManager, log


class RedactTokens(logging.Filter):
    """uvicorn logs each WebSocket's path with its query string ('"WebSocket /ws?token=…"
    [accepted]'); the token must not reach a log."""

    TOKEN = re.compile(r"(token=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = self.TOKEN.sub(r"\1<redacted>", message), ()
        return True


@dataclass
class RunningServer:
    """A server: its URL, its episodes, and how to stop it."""

    url: str
    config: ServeConfig
    manager: EpisodeManager
    server: uvicorn.Server
    sock: socket.socket
    thread: threading.Thread | None = None

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    def run(self) -> None:
        """Serve until Ctrl-C (or `stop()` from another thread); closes every episode after."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=30)


def make_server(config: ServeConfig, log_level: str = "warning") -> RunningServer:
    """Bind the socket and build the app; nothing is served until `run()`."""
    manager = EpisodeManager(config)
    app = create_app(config, manager)
    sock = bind(config.host, config.port, backlog=512)
    uv = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,  # a WebSocket's ?token= would be in its log line
        ws="auto",
        ws_max_size=MAX_MESSAGE_BYTES,
        ws_ping_interval=20.0,
        ws_ping_timeout=60.0,
        timeout_graceful_shutdown=5,
        lifespan="on",
    )
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, RedactTokens) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(RedactTokens())
    port = sock.getsockname()[1]
    shown = f"[{config.host.strip('[]')}]" if ":" in config.host else config.host
    return RunningServer(f"http://{shown}:{port}", config, manager, uvicorn.Server(uv), sock)


def serve(config: ServeConfig, on_ready: Callable[[RunningServer], None] | None = None) -> None:
    """Serve until Ctrl-C, logging episodes opening and closing."""
    running = make_server(config, log_level="info")
    handler = logging.StreamHandler()
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    # the imports (openenv-core brings gradio and fastmcp) are a large heap that never dies:
    # frozen, the collector skips it while serving and at exit (seconds, on a busy machine)
    gc.freeze()
    if on_ready is not None:
        on_ready(running)
    running.run()


def start_in_thread(config: ServeConfig, log_level: str = "warning") -> RunningServer:
    """Serve from a background thread (tests, benchmarks, the SkyRL example); `stop()` ends it."""
    running = make_server(config, log_level=log_level)
    running.thread = threading.Thread(target=running.run, name="rgym-serve", daemon=True)
    running.thread.start()
    deadline = time.monotonic() + 30
    while not running.server.started:
        if not running.thread.is_alive() or time.monotonic() > deadline:
            raise RgymError(f"rgym serve did not start on {running.url}")
        time.sleep(0.01)
    return running
