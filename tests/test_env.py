"""ResearchEnv follows the Gymnasium API, rewards as designed, and auto-submits on budgets."""

from __future__ import annotations

import gymnasium
import pytest

import rgym
from rgym.budget import Budget
from tests.conftest import requires_bwrap

pytestmark = requires_bwrap


@pytest.fixture
def bos():
    env = rgym.make("battle-of-sexes")
    yield env
    env.close()


def test_registered_with_gymnasium_and_spaces_declared():
    env = gymnasium.make("rgym/titanic-v0")
    try:
        assert isinstance(env.observation_space, gymnasium.spaces.Text)
        assert isinstance(env.action_space, gymnasium.spaces.Text)
        obs, info = env.reset(seed=3)
        assert "Titanic" in obs and info["task"] == "titanic"
        out = env.step("echo hello")
        assert len(out) == 5
        obs, reward, terminated, truncated, info = out
        assert obs.strip() == "hello" and reward == 0.0 and not terminated and not truncated
        assert info["budget"]["steps"] == 1
    finally:
        env.close()


def test_validate_scores_dev_without_reward_and_submit_ends_with_normalised_reward(bos):
    bos.reset(seed=0)
    obs, reward, terminated, truncated, info = bos.step("validate")
    assert "Dev split: Score=" in obs and reward == 0.0 and not terminated
    assert info["dev_score"] == pytest.approx(1.02, abs=0.05)
    bos.step("printf 'def row_strategy(history):\\n    return 0\\n' > strategy.py")
    obs, reward, terminated, truncated, info = bos.step("submit")
    assert terminated and not truncated
    assert info["exit_status"] == "submitted"
    assert info["test_score"] == pytest.approx(1.44, abs=0.02)
    assert reward == pytest.approx(info["normalised_test_score"])
    assert reward > 0.9
    with pytest.raises(RuntimeError):
        bos.step("ls")


def test_step_budget_truncates_and_auto_submits():
    env = rgym.make("battle-of-sexes", budget=Budget(max_steps=2))
    try:
        env.reset()
        assert env.step("true")[3] is False
        obs, reward, terminated, truncated, info = env.step("true")
        assert truncated and not terminated
        assert info["exit_status"] == "auto_submitted:steps"
        assert info["test_score"] is not None
        assert "exhausted" in obs
    finally:
        env.close()


def test_validation_budget_is_enforced():
    env = rgym.make("battle-of-sexes", budget=Budget(max_validations=1))
    try:
        env.reset()
        assert "Dev split" in env.step("validate")[0]
        obs = env.step("validate")[0]
        assert "No validations left" in obs and env.validations == 1
    finally:
        env.close()


def test_missing_artifact_is_a_typed_exit_with_negative_reward(bos):
    bos.reset()
    bos.step("rm strategy.py")
    obs, reward, terminated, _, info = bos.step("submit")
    assert terminated and info["exit_status"] == "no_artifact" and info["ended_by"] == "submit"
    assert reward < 0
    assert "strategy.py" in obs


def test_invalid_artifact_is_typed_with_a_message(bos):
    bos.reset()
    bos.step("echo 'def row_strategy(history) return 0' > strategy.py")
    obs, _, _, _, info = bos.step("validate")
    assert "invalid_artifact" in obs and "not valid Python" in obs
    bos.step("printf 'def row_strategy(h):\\n    return 7\\n' > strategy.py")
    obs, _, _, _, info = bos.step("submit")
    assert info["exit_status"] == "invalid_artifact"
    assert "must return the integer 0 or 1" in obs


def test_shaping_rewards_dev_improvement_when_enabled():
    env = rgym.make("battle-of-sexes", shaping=True)
    try:
        env.reset()
        env.step("printf 'def row_strategy(history):\\n    return 0\\n' > strategy.py")
        _, reward, *_ = env.step("validate")
        assert reward > 0.5
        _, reward, *_ = env.step("validate")
        assert reward == 0.0  # no improvement, no reward
    finally:
        env.close()


def test_game_history_reaches_the_strategy_as_tuples(bos):
    bos.reset()
    bos.step(
        "printf 'def row_strategy(history):\\n"
        "    if history and not isinstance(history[-1], tuple):\\n"
        "        return 7\\n"
        "    return 0\\n' > strategy.py"
    )
    info = bos.step("submit")[4]
    assert info["exit_status"] == "submitted", info


def test_a_command_cannot_outlive_the_wall_clock_budget():
    import time

    env = rgym.make("battle-of-sexes", budget=Budget(max_wall_seconds=3))
    try:
        env.reset()
        start = time.monotonic()
        obs, _, terminated, truncated, info = env.step("sleep 60")
        assert time.monotonic() - start < 15
        assert truncated and info["exit_status"] == "auto_submitted:wall"
        assert "timed out" in obs
    finally:
        env.close()


def test_which_budget_ended_the_run_survives_a_failed_submission():
    env = rgym.make("battle-of-sexes", budget=Budget(max_steps=1))
    try:
        env.reset()
        info = env.step("rm strategy.py")[4]
        assert info["exit_status"] == "no_artifact" and info["ended_by"] == "steps"
    finally:
        env.close()
