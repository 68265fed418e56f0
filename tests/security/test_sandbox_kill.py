"""Attack: end the episode by killing the sandbox, hoping an ungraded end (reward 0) beats the
bad score the artefact would earn. Before the fix, `kill -9 2` ended the episode `infra_error`
with reward 0 where the same artefact submitted honestly got a negative reward."""

from __future__ import annotations

import os
import signal

import rgym
from tests.conftest import requires_bwrap

pytestmark = requires_bwrap

BAD = (
    "cat > strategy.py <<'PY'\n"
    "def row_strategy(history):\n"
    "    return 1  # never meets the column player where it pays the row player most\n"
    "PY"
)


def _honest_reward() -> float:
    env = rgym.make("battle-of-sexes")
    try:
        env.reset(seed=0)
        env.step(BAD)
        return env.step("submit")[1]
    finally:
        env.close()


def test_killing_the_shell_from_inside_does_nothing_and_the_bad_score_stands():
    honest = _honest_reward()
    assert honest < 0
    env = rgym.make("battle-of-sexes")
    try:
        env.reset(seed=0)
        env.step(BAD)
        for attack in ("kill -9 1", "kill -STOP 1", "kill -9 -1", "kill -SEGV 1"):
            env.step(attack)
            obs, reward, terminated, truncated, info = env.step("echo still-here")
            assert "still-here" in obs and not truncated, attack
        obs, reward, terminated, truncated, info = env.step("submit")
        assert terminated and info["exit_status"] == "submitted"
        assert reward == honest
    finally:
        env.close()


def test_a_sandbox_that_dies_anyway_is_graded_and_typed():
    honest = _honest_reward()
    env = rgym.make("battle-of-sexes")
    try:
        env.reset(seed=0)
        env.step(BAD)
        # the sandbox dies under the agent (here: killed from the host, the one way left)
        os.killpg(env.sandbox.process.popen.pid, signal.SIGKILL)
        obs, reward, terminated, truncated, info = env.step("ls")
        assert truncated and "sandbox failed" in obs
        assert info["exit_status"] == "infra_error"  # no evidence that the agent did it
        assert info["ended_by"] == "sandbox_died:host"
        assert info["test_score"] is not None
        assert reward == honest  # graded all the same: never the 0 of an ungraded end
    finally:
        env.close()
