"""Secure by default: loopback unless told otherwise, a token off loopback, the token on every
request of both transports, and no way in for a web page the user happens to visit."""

from __future__ import annotations

import logging

import httpx
import pytest
from typer.testing import CliRunner
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from rgym.serve.client import RemoteEnv
from rgym.serve.config import ServeConfig, UnsafeServeConfig
from rgym.serve.errors import Unauthorized
from tests.conftest import requires_bwrap
from tests.serve.conftest import TASK, TOKEN, VARIANT

pytestmark = requires_bwrap


def test_defaults_to_loopback_and_refuses_another_address_without_a_token(monkeypatch):
    assert ServeConfig().host == "127.0.0.1"
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"):
        with pytest.raises(UnsafeServeConfig, match="without a token"):
            ServeConfig(host=host)
        ServeConfig(host=host, token=TOKEN)  # allowed with one
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        ServeConfig(host=host)
    with pytest.raises(UnsafeServeConfig, match="too easy to guess"):
        ServeConfig(token="short")

    from rgym.cli import app

    monkeypatch.delenv("RGYM_SERVE_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "refusing to serve sandboxes beyond this machine without a token" in result.output


def test_with_a_token_every_http_request_needs_it(start):
    running = start(token=TOKEN)
    with httpx.Client(base_url=running.url, timeout=60) as http:
        for method, path in (("GET", "/health"), ("GET", "/tasks"), ("POST", "/episodes")):
            refused = http.request(method, path, json={"task": TASK, "variant": VARIANT})
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "needs a token" in refused.json()["detail"]
        wrong = http.get("/health", headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong token"
        # a query parameter is for WebSockets only: not accepted on HTTP
        assert http.get(f"/health?token={TOKEN}").status_code == 401

        auth = {"Authorization": f"Bearer {TOKEN}"}
        opened = http.post("/episodes", json={"task": TASK, "variant": VARIANT}, headers=auth)
        assert opened.status_code == 201
        episode = opened.json()["observation"]["episode_id"]
        step = f"/episodes/{episode}/step"
        assert http.post(step, json={"command": "ls"}).status_code == 401
        assert http.post(step, json={"command": "ls"}, headers=auth).status_code == 200
        assert http.delete(f"/episodes/{episode}", headers=auth).status_code == 204


def test_with_a_token_a_websocket_needs_it_in_a_header_or_the_query(start):
    running = start(token=TOKEN)
    for url, headers in (
        (f"{running.ws_url}/ws", None),
        (f"{running.ws_url}/ws?token=wrong-wrong-wrong-wrong", None),
        (f"{running.ws_url}/ws", {"Authorization": "Bearer wrong-wrong-wrong-wrong"}),
    ):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=headers).__enter__()
        assert refused.value.response.status_code == 403  # refused at the handshake
    assert not running.manager.episodes

    with pytest.raises(Unauthorized, match="refused the connection"):
        RemoteEnv(running.url, TASK, variant=VARIANT).reset()
    env = RemoteEnv(running.url, TASK, variant=VARIANT, token=TOKEN)  # the header
    env.reset()
    assert env.step("echo in")[0] == "in\n"
    env.close()
    with connect(f"{running.ws_url}/ws?token={TOKEN}") as ws:  # the query parameter
        ws.send('{"type": "state"}')
        assert '"type":"state"' in ws.recv(timeout=30)


def test_web_pages_cannot_reach_a_loopback_server(server):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # DNS rebinding: evil.example resolving to 127.0.0.1 sends its own name as Host
        rebound = http.get("/health", headers={"Host": "evil.example:8000"})
        assert rebound.status_code == 421
        # a page's cross-origin request (a form post needs no CORS preflight)
        posted = http.post(
            "/episodes",
            json={"task": TASK, "variant": VARIANT},
            headers={"Origin": "https://evil.example"},
        )
        assert posted.status_code == 403 and "cross-origin" in posted.json()["detail"]
        # bodies far past any action are refused before they are read whole
        huge = http.post("/episodes/x/step", content=b"x" * (9 * 1024 * 1024))
        assert huge.status_code == 413
    with pytest.raises(InvalidStatus) as refused:  # browsers hold WebSockets to no CORS
        connect(f"{server.ws_url}/ws", origin="https://evil.example").__enter__()
    assert refused.value.response.status_code == 403
    with connect(f"{server.ws_url}/ws", origin=server.url) as ws:  # its own origin is fine
        ws.send('{"type": "state"}')
        assert ws.recv(timeout=30)


def test_a_token_in_a_websocket_url_never_reaches_the_log():
    from rgym.serve.server import start_in_thread

    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    keep = Keep()
    running = start_in_thread(ServeConfig(port=0, token=TOKEN), log_level="info")
    logging.getLogger("uvicorn.error").addHandler(keep)
    try:
        with connect(f"{running.ws_url}/ws?token={TOKEN}") as ws:
            ws.send('{"type": "state"}')
            ws.recv(timeout=30)
    finally:
        running.stop()
        logging.getLogger("uvicorn.error").removeHandler(keep)
    accepted = [m for m in seen if "[accepted]" in m]
    assert accepted  # uvicorn logs the path it accepted (newer uvicorns redact the query too)
    assert "token=<redacted>" in accepted[0] or "REDACTED" in accepted[0]
    assert not any(TOKEN in m for m in seen)
