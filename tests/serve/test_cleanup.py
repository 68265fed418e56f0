"""No episode outlives its client: a WebSocket that goes away, an HTTP episode left idle, or a
server that stops leaves no sandbox process and no scratch folder behind."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.sync.client import connect

from rgym.serve.client import RemoteEnv
from rgym.serve.errors import ConnectionLost
from tests.conftest import requires_bwrap
from tests.serve.conftest import TASK, VARIANT, leftovers, wait_for

pytestmark = requires_bwrap
RESET = json.dumps({"type": "reset", "data": {"task": TASK, "variant": VARIANT}})


def test_a_websocket_client_that_disconnects_mid_episode_leaks_no_sandbox(server):
    before = leftovers()
    with connect(f"{server.ws_url}/ws") as ws:  # a raw client: no close message, just gone
        ws.send(RESET)
        ws.recv(timeout=60)
        ws.send('{"type": "step", "data": {"command": "sleep 300 & echo started"}}')
        ws.recv(timeout=60)
        during = leftovers()
        assert during[0] > before[0] and during[1] > before[1]  # a sandbox and its workspace
        assert len(server.manager.episodes) == 1
    assert wait_for(lambda: leftovers() == before)
    assert wait_for(lambda: server.manager.episodes == {})  # popped just after the teardown


def test_a_client_killed_during_a_step_leaks_nothing_once_the_step_ends(server):
    before = leftovers()
    ws = connect(f"{server.ws_url}/ws").__enter__()
    ws.send(RESET)
    ws.recv(timeout=60)
    ws.send('{"type": "step", "data": {"command": "sleep 2"}}')
    ws.socket.close()  # the process dies mid-step: no close frame at all
    assert wait_for(lambda: leftovers() == before and not server.manager.episodes, 30)


def test_idle_episodes_are_closed_on_both_transports_with_a_reason(start):
    running = start(idle_timeout=0.5)
    before = leftovers()
    env = RemoteEnv(running.url, TASK, variant=VARIANT)
    env.reset()
    with httpx.Client(base_url=running.url, timeout=60) as http:
        opened = http.post("/episodes", json={"task": TASK, "variant": VARIANT})
        episode = opened.json()["observation"]["episode_id"]
        # a step longer than the timeout is not idleness
        long = http.post(f"/episodes/{episode}/step", json={"command": "sleep 1.5; echo done"})
        assert long.json()["observation"]["text"] == "done\n"
        assert leftovers()[0] > before[0]
        assert wait_for(lambda: not running.manager.episodes, 10)  # both, once left alone
        assert leftovers() == before
        gone = http.post(f"/episodes/{episode}/step", json={"command": "ls"})
        assert gone.status_code == 404
        assert "was closed: idle for more than 0.5 s" in gone.json()["detail"]
    with pytest.raises(ConnectionLost, match="idle for more than 0.5 s"):
        env.step("ls")
    env.reset()  # the client reconnects to a new episode
    assert env.step("echo back")[0] == "back\n"
    env.close()


def test_stopping_the_server_closes_every_episode(start):
    before = leftovers()
    running = start()
    env = RemoteEnv(running.url, TASK, variant=VARIANT)
    env.reset()
    with httpx.Client(base_url=running.url, timeout=60) as http:
        http.post("/episodes", json={"task": TASK, "variant": VARIANT})
    assert len(running.manager.episodes) == 2
    running.stop()
    assert leftovers() == before
    with pytest.raises(ConnectionLost):
        env.step("ls")
