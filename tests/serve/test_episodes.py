"""Episodes over the wire behave as in-process: same rewards, same dev and test scores, the
same errors for the same mistakes, many at once without holding each other up."""

from __future__ import annotations

import json
import statistics
import threading
import time

import httpx
import pytest
from websockets.sync.client import connect

import rgym
from rgym.serve.client import RemoteEnv
from rgym.serve.errors import AtCapacity, EpisodeStateError
from tests.conftest import requires_bwrap
from tests.serve.conftest import DEMO, TASK, VARIANT

pytestmark = requires_bwrap


def in_process(actions: list[str], **kwargs) -> list[tuple]:
    env = rgym.make(TASK, variant=VARIANT, **kwargs)
    try:
        env.reset(seed=0)
        return [env.step(a) for a in actions]
    finally:
        env.close()


def test_same_rewards_and_scores_as_in_process_over_websocket_and_http(server):
    here = in_process(DEMO)
    env = RemoteEnv(server.url, TASK, variant=VARIANT)
    try:
        env.reset(seed=0)
        remote = [env.step(a) for a in DEMO]
    finally:
        env.close()
    with httpx.Client(base_url=server.url, timeout=120) as http:
        opened = http.post("/episodes", json={"task": TASK, "variant": VARIANT, "seed": 0})
        assert opened.status_code == 201
        episode = opened.json()["observation"]["episode_id"]
        assert opened.headers["location"] == f"/episodes/{episode}"
        over_http = []
        for action in DEMO:
            reply = http.post(f"/episodes/{episode}/step", json={"command": action}).json()
            o = reply["observation"]
            over_http.append(
                (o["text"], reply["reward"], o["terminated"], o["truncated"], o["info"])
            )
        assert reply["done"] is True
        assert http.delete(f"/episodes/{episode}").status_code == 204

    for ours, theirs in ((remote, here), (over_http, here)):
        assert [s[:4] for s in ours] == [s[:4] for s in theirs]  # text, reward, flags
        assert [s[4] for s in ours] == [s[4] for s in theirs]  # info: dev and test scores too
    dev, final = here[1][4], here[-1][4]
    assert dev["dev_score"] == pytest.approx(2.39, abs=0.1)  # the starter, on dev
    assert final["exit_status"] == "submitted"
    assert here[-1][1] == final["normalised_test_score"] > 0.9  # the reference, on test


def test_shaping_pays_dev_improvements_as_in_process(start):
    actions = [DEMO[2], "validate", "validate"]
    here = in_process(actions, shaping=True)
    running = start(shaping=True, tasks=[TASK])
    env = RemoteEnv(running.url, TASK, variant=VARIANT)
    try:
        env.reset(seed=0)
        remote = [env.step(a) for a in actions]
    finally:
        env.close()
    assert [r[1] for r in remote] == [r[1] for r in here]
    assert remote[1][1] > 0.5 and remote[2][1] == 0.0  # paid once, for the improvement


def test_a_step_after_the_end_or_before_a_reset_is_the_same_error_as_in_process(server):
    env = RemoteEnv(server.url, TASK, variant=VARIANT, max_steps=1)
    try:
        with pytest.raises(EpisodeStateError, match="step before reset"):
            env.step("ls")
        env.reset()
        *_, truncated, info = env.step("true")
        assert truncated and info["exit_status"] == "auto_submitted:steps"
        with pytest.raises(RuntimeError, match="has ended"):  # as ResearchEnv.step raises
            env.step("ls")
        assert env.state()["finished"] is True
        env.reset()  # and a reset starts another
        assert env.state()["step_count"] == 0
    finally:
        env.close()


def test_a_task_is_named_by_id_never_by_a_path_on_the_server(server, tmp_path):
    """Attack: a client names a task folder it placed (same id as a served task, its own
    data recipe and grader). Loading a task runs its recipe on the host, so a client's string
    must only ever pick among the served ids."""
    import shutil

    from rgym.tasks.registry import get_task

    planted = tmp_path / "planted"
    shutil.copytree(get_task(TASK).root, planted)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for name in (str(planted), f"{planted}/task.yaml", "./" + TASK):
            reply = http.post("/episodes", json={"task": name, "variant": VARIANT})
            assert reply.status_code == 422 and "does not serve task" in reply.text, name
        ok = http.post("/episodes", json={"task": f"rgym/{TASK}-v0", "variant": VARIANT})
        assert ok.is_success, ok.text  # gym ids still resolve
        http.delete(f"/episodes/{ok.json()['observation']['episode_id']}")


def test_unknown_episode_is_404_and_bad_actions_and_resets_are_422(server):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        missing = http.post("/episodes/no-such-id/step", json={"command": "ls"})
        assert missing.status_code == 404
        assert "no episode 'no-such-id'" in missing.json()["detail"]
        assert http.get("/episodes/no-such-id").status_code == 404
        assert http.delete("/episodes/no-such-id").status_code == 404

        episode = http.post("/episodes", json={"task": TASK, "variant": VARIANT}).json()[
            "observation"
        ]["episode_id"]
        for body in ({"command": 3}, {"command": None}, {}, {"command": "ls", "extra": 1}):
            reply = http.post(f"/episodes/{episode}/step", json=body)
            assert reply.status_code == 422, body
            assert reply.json()["code"] == "VALIDATION_ERROR"
        too_long = http.post(f"/episodes/{episode}/step", json={"command": "x" * 1_000_001})
        assert too_long.status_code == 422
        assert "at most 1000000 characters" in too_long.text and "xxxx" not in too_long.text
        not_json = http.post(f"/episodes/{episode}/step", content=b"ls")
        assert not_json.status_code == 422
        assert http.get(f"/episodes/{episode}").json()["step_count"] == 0  # none of them ran

        for body, expected in (
            ({"task": "no-such-task"}, "does not serve task 'no-such-task'"),
            ({"task": TASK, "variant": "huge"}, "has no variant 'huge'"),
            ({"task": TASK, "varient": "tiny"}, "Extra inputs"),
            ({"task": TASK, "seed": -1}, "greater than or equal to 0"),
            ({}, "reset needs a task"),
        ):
            reply = http.post("/episodes", json=body)
            assert reply.status_code == 422 and expected in reply.text, (body, reply.text)
        http.delete(f"/episodes/{episode}")
        assert http.get("/health").json()["episodes"] == 0  # failed opens left nothing


def test_bad_messages_on_the_websocket_are_clean_errors_and_the_session_goes_on(server):
    with connect(f"{server.ws_url}/ws") as ws:

        def ask(message: str | dict) -> dict:
            ws.send(message if isinstance(message, str) else json.dumps(message))
            return json.loads(ws.recv(timeout=60))

        assert (
            ask({"type": "reset", "data": {"task": TASK, "variant": VARIANT}})["type"]
            == "observation"
        )
        for message, code, text in (
            ({"type": "step", "data": {"command": ["ls"]}}, "VALIDATION_ERROR", "valid string"),
            (
                {"type": "step", "data": {"cmd": "ls"}},
                "VALIDATION_ERROR",
                "command: Field required",
            ),
            ({"type": "step"}, "VALIDATION_ERROR", "data: Field required"),
            ({"type": "reset", "data": {"task": 7}}, "VALIDATION_ERROR", "reset: task"),
            ({"type": "dance"}, "UNKNOWN_TYPE", "unknown message type 'dance'"),
            ("{not json", "INVALID_JSON", "invalid JSON"),
        ):
            reply = ask(message)
            assert reply["type"] == "error", reply
            assert reply["data"]["code"] == code and text in reply["data"]["message"], reply
        reply = ask({"type": "step", "data": {"command": "echo still here"}})
        assert reply["data"]["observation"]["text"] == "still here\n"
        assert reply["data"]["observation"]["info"]["budget"]["steps"] == 1  # only that one ran


def test_many_episodes_at_once_and_a_slow_one_holds_up_no_other(server):
    envs = [RemoteEnv(server.url, TASK, variant=VARIANT) for _ in range(8)]
    done: dict[int, float] = {}
    errors: list[BaseException] = []

    def episode(i: int, command: str) -> None:
        try:
            envs[i].reset(seed=i)
            text = envs[i].step(command)[0]
            assert text.strip() == ("slow" if i == 0 else str(i)), text
            done[i] = time.monotonic()
        except BaseException as e:  # noqa: BLE001 — reported below
            errors.append(e)

    try:
        slow = threading.Thread(target=episode, args=(0, "sleep 4; echo slow"))
        slow.start()
        time.sleep(0.5)
        fast = [threading.Thread(target=episode, args=(i, f"echo {i}")) for i in range(1, 8)]
        for t in fast:
            t.start()
        for t in [slow, *fast]:
            t.join(60)
        assert not errors, errors
        assert len(done) == 8
        assert max(done[i] for i in range(1, 8)) < done[0]  # all seven ran while it slept
        with httpx.Client(base_url=server.url) as http:
            assert http.get("/health").json()["episodes"] == 8
    finally:
        for env in envs:
            env.close()


def test_max_episodes_bounds_websocket_and_http_sessions_alike(start):
    running = start(max_episodes=2)
    with httpx.Client(base_url=running.url, timeout=60) as http:
        first = http.post("/episodes", json={"task": TASK, "variant": VARIANT}).json()[
            "observation"
        ]["episode_id"]
        ws = RemoteEnv(running.url, TASK, variant=VARIANT)
        ws.reset()
        refused = http.post("/episodes", json={"task": TASK, "variant": VARIANT})
        assert refused.status_code == 503
        assert "2 of 2 episodes live" in refused.json()["detail"]
        extra = RemoteEnv(running.url, TASK, variant=VARIANT)
        with pytest.raises(AtCapacity, match="at capacity"):
            extra.reset()
        http.delete(f"/episodes/{first}")
        extra.reset()  # a slot is free again; the client reconnects
        assert extra.step("echo ok")[0] == "ok\n"
        extra.close()
        ws.close()


def test_http_round_trips_take_milliseconds_not_a_delayed_ack(server):
    # a listening socket made without IPPROTO_TCP gets no TCP_NODELAY from asyncio, and every
    # response's body then waited out the client's delayed ACK: 40 ms a request
    with httpx.Client(base_url=server.url) as http:
        http.get("/health")
        times = []
        for _ in range(20):
            start = time.perf_counter()
            http.get("/health")
            times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.03
