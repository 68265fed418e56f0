"""ResearchEnv passes Gymnasium's own checks: check_env, the passive checker, vector envs,
max_episode_steps and seeding, checked with Gymnasium's functions rather than imitations."""

from __future__ import annotations

import copy
import shlex
import warnings
from contextlib import contextmanager, nullcontext

import gymnasium
import numpy as np
import pytest
from gymnasium.spaces import Text
from gymnasium.spaces.utils import flatten, flatten_space, unflatten
from gymnasium.utils.env_checker import check_env, check_step_determinism, data_equivalence
from gymnasium.vector.utils import (
    create_shared_memory,
    read_from_shared_memory,
    write_to_shared_memory,
)
from gymnasium.wrappers import PassiveEnvChecker, TimeLimit

import rgym
from rgym.spaces import HARMLESS_COMMANDS, PAD, ActionText, AnyText
from rgym.tasks.registry import CATALOG, all_tasks
from tests.conftest import requires_bwrap, unmeasured

BOS = "rgym/battle-of-sexes-v0"
ALWAYS_0 = "printf 'def row_strategy(history):\\n    return 0\\n' > strategy.py"
"""An artefact that scores well above the baseline (test_env.py pins ~1.44 against ~1.0)."""
ODD_TEXT = "tab\there é ✓ 🎉 \x1b[31mred\x1b[0m NUL\x00 lone\ud800 {#}$'\"\\\n"
"""Every code point is in the spaces, these too (gymnasium's default Text holds alphanumerics)."""
PRINTED = "tab\there é ✓ 🎉 \x1b[31mred\x1b[0m {#}$'\"\\"
PRINT = f"printf %s {shlex.quote(PRINTED)}"


@contextmanager
def gymnasium_silent():
    """Any warning (Gymnasium's checkers warn through `warnings`) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def builtin_gym_ids() -> list:
    """The catalogue's tasks (all_tasks() also holds RGYM_TASKS_DIR's, when it is set). Of the
    tasks that train models, one per stack is checked in the default suite (CI's time), the
    rest in the slow one."""
    tasks = [t for t in all_tasks().values() if CATALOG in t.path(".").parents]
    default_suite = {"fashion-mnist", "language-modeling", "rl-mountain-car"}
    return sorted(
        pytest.param(
            f"rgym/{t.id}-v{t.version}",
            marks=[pytest.mark.slow] if t.stack and t.id not in default_suite else [],
        )
        for t in tasks
    )


def all_keys(info: dict) -> set[str]:
    keys = set(info)
    for value in info.values():
        if isinstance(value, dict):
            keys |= all_keys(value)
    return keys


def wrappers(env: gymnasium.Env) -> list[type]:
    found = []
    while isinstance(env, gymnasium.Wrapper):
        found.append(type(env))
        env = env.env
    return found


# --- the spaces (no sandbox needed) -------------------------------------------------------


def test_text_spaces_hold_any_str_within_the_length_bound():
    space = AnyText(1000)
    assert isinstance(space, Text)
    for x in ["", "ls -la | grep 'x'", ODD_TEXT, "é" * 1000]:
        assert space.contains(x) and x in space
    assert "x" * 1001 not in space
    assert b"ls" not in space and None not in space and 5 not in space
    assert space == AnyText(1000) and space != AnyText(999) and space != Text(1000)


def test_flattening_matches_gymnasiums_own_text_functions():
    space = AnyText(64)
    generic_flatten, generic_unflatten = flatten.dispatch(Text), unflatten.dispatch(Text)
    flat = flatten(space, ODD_TEXT)
    assert flat.dtype == np.int32 and flat.shape == (64,)
    assert np.array_equal(flat, generic_flatten(space, ODD_TEXT))
    assert flat[len(ODD_TEXT)] == PAD == len(space.character_set)
    assert unflatten(space, flat) == generic_unflatten(space, flat) == ODD_TEXT
    assert flat in flatten_space(space)
    with pytest.raises(ValueError, match="longer than"):
        flatten(space, "x" * 65)


def test_shared_memory_is_a_live_view_and_copies_to_a_tuple_of_str():
    space = AnyText(32)
    memory = create_shared_memory(space, n=2)
    view = read_from_shared_memory(space, memory, n=2)  # read once, as AsyncVectorEnv does
    write_to_shared_memory(space, 0, "pwd", memory)
    write_to_shared_memory(space, 1, ODD_TEXT[:32], memory)
    assert tuple(view) == ("pwd", ODD_TEXT[:32])
    snapshot = copy.deepcopy(view)
    assert type(snapshot) is tuple and snapshot == view
    write_to_shared_memory(space, 0, "é", memory)
    assert view[0] == "é" and snapshot[0] == "pwd"


def test_action_sample_is_a_short_harmless_command_seeded_by_the_space():
    space = ActionText(1_000_000)
    space.seed(7)
    first = [space.sample() for _ in range(40)]
    space.seed(7)
    assert [space.sample() for _ in range(40)] == first
    assert set(first) == set(HARMLESS_COMMANDS)
    assert not {"validate", "submit"} & set(first)
    assert all(len(a) < 40 and a in space for a in first)
    space.seed(8)
    assert [space.sample() for _ in range(40)] != first
    with pytest.raises(ValueError, match="no mask"):
        space.sample(mask=(3, None))


def test_registration_keeps_the_checker_and_maps_no_time_limit():
    spec = gymnasium.spec(BOS)
    assert spec.disable_env_checker is False
    assert spec.max_episode_steps is None
    assert [w.name for w in spec.additional_wrappers] == ["StepBudgetFromTimeLimit"]


# --- the env (bwrap) ---------------------------------------------------------------------


@requires_bwrap
@pytest.mark.parametrize("gid", builtin_gym_ids())
def test_check_env_passes_for_every_builtin_task(gid):
    # tasks that train models are checked on their test-sized variant ...
    spec = rgym.spec(gid)
    kwargs = {"variant": "tiny"} if spec.stack is not None and "tiny" in spec.variants else {}
    env = gymnasium.make(gid, **kwargs)
    # ... and without measuring their baseline first (it trains; the API is the same)
    measure = unmeasured() if spec.stack is not None else nullcontext()
    try:
        with gymnasium_silent(), measure:
            check_env(env.unwrapped)
    finally:
        env.close()


@requires_bwrap
def test_passive_checker_is_on_and_silent():
    env = gymnasium.make("rgym/titanic-v0")
    try:
        assert PassiveEnvChecker in wrappers(env)
        with gymnasium_silent():
            obs, info = env.reset(seed=0)
            env.step(env.action_space.sample())
            obs, *_ = env.step(PRINT)
            env.step("ls")
            env.render()
        assert obs == PRINTED and obs in env.observation_space
    finally:
        env.close()


@requires_bwrap
def test_every_harmless_command_leaves_the_workspace_as_it_was():
    env = gymnasium.make("rgym/sat-heuristic-v0")
    try:
        env.reset(seed=0)
        before = env.step("ls -lR --time-style=+ .")[0]
        for command in HARMLESS_COMMANDS:
            obs, reward, terminated, truncated, info = env.step(command)
            assert reward == 0.0 and not terminated and not truncated
            assert info["exec"]["exit_code"] == 0, (command, obs)
        assert env.step("ls -lR --time-style=+ .")[0] == before
        assert info["budget"]["validations"] == 0
    finally:
        env.close()


@requires_bwrap
def test_step_info_is_deterministic_and_timings_live_on_the_env():
    env = gymnasium.make(BOS)
    try:
        check_step_determinism(env.unwrapped)  # Gymnasium's own check, on a sampled action
        infos = []
        for _ in range(2):
            env.reset(seed=1)
            infos.append(env.step("sleep 0.3; ls")[4])  # different timings, same info
        assert data_equivalence(infos[0], infos[1], exact=True)
        for key in ["exit_status", "dev_score", "test_score", "budget", "exec", "task"]:
            assert key in infos[0]
        assert infos[0]["budget"]["steps"] == 1 and infos[0]["exec"]["exit_code"] == 0
        timed = [k for k in all_keys(infos[0]) if "second" in k and not k.startswith("max_")]
        assert not timed, timed
        timings = env.unwrapped.timings
        assert timings["last_command_seconds"] >= 0.3 and timings["wall_seconds"] >= 0.3
        assert timings["reset_seconds"] > 0
    finally:
        env.close()


@requires_bwrap
def test_max_episode_steps_is_the_step_budget_so_truncation_is_graded():
    env = gymnasium.make(BOS, max_episode_steps=2)
    try:
        assert TimeLimit in wrappers(env)
        obs, info = env.reset(seed=0)
        assert info["budget"]["max_steps"] == 2 and "Budgets: 2 steps" in obs
        assert env.step(ALWAYS_0)[1:4] == (0.0, False, False)
        obs, reward, terminated, truncated, info = env.step("ls")
        assert truncated and not terminated
        assert info["exit_status"] == "auto_submitted:steps"
        assert info["test_score"] == pytest.approx(1.44, abs=0.02)
        assert reward == pytest.approx(info["normalised_test_score"]) and reward > 0.9
    finally:
        env.close()
    longer = gymnasium.make(BOS, max_episode_steps=45)  # above the task's 30: raised to match
    assert longer.unwrapped.budget.max_steps == 45
    longer.close()
    for plain in [gymnasium.make(BOS), gymnasium.make(BOS, max_episode_steps=-1)]:
        assert TimeLimit not in wrappers(plain)
        assert (
            plain.unwrapped.budget.max_steps
            == rgym.spec("battle-of-sexes").variant("default").limits.max_steps
        )
        plain.close()


@requires_bwrap
def test_reset_seed_seeds_np_random_but_never_the_task():
    env = gymnasium.make("rgym/titanic-v0")
    try:
        data = "find data -type f | sort | xargs md5sum"
        outcomes = []
        for seed in [1, 1, 2]:
            obs, _ = env.reset(seed=seed)
            state = copy.deepcopy(env.unwrapped.np_random.bit_generator.state)
            outcomes.append((obs, env.step(data)[0], state))
        (p1, d1, s1), (p1b, d1b, s1b), (p2, d2, s2) = outcomes
        assert s1 == s1b and s1 != s2  # the seed reaches np_random
        assert p1 == p1b == p2 and d1 == d1b == d2  # and nothing about the task
        assert ".csv" in d1

        env.action_space.seed(3)
        drawn = [env.action_space.sample() for _ in range(10)]
        env.action_space.seed(3)
        env.reset(seed=99)  # as in Gymnasium, reset(seed) does not reseed the action space
        assert [env.action_space.sample() for _ in range(10)] == drawn
    finally:
        env.close()


@requires_bwrap
def test_the_same_artefact_scores_the_same_under_any_seed():
    env = gymnasium.make(BOS)
    try:
        scores = []
        for seed in [1, 2]:
            env.reset(seed=seed)
            env.step(ALWAYS_0)
            scores.append(env.step("submit")[4]["test_score"])
        assert scores[0] == scores[1] is not None
    finally:
        env.close()


@requires_bwrap
def test_async_vector_envs_with_spawned_workers():
    """What docs/gymnasium.md advises in a process with JAX or PyTorch threads."""
    kwargs = {"context": "spawn"}
    envs = gymnasium.make_vec(BOS, num_envs=2, vectorization_mode="async", vector_kwargs=kwargs)
    try:
        obs, _ = envs.reset(seed=0)
        assert all(o.startswith("# Task: Iterated Battle") for o in obs)
        obs, reward, *_ = envs.step(("pwd", "ls"))
        assert obs[0].strip() == "/home/agent/workspace" and "strategy.py" in obs[1]
    finally:
        envs.close()


@requires_bwrap
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs_run_four_copies_of_a_builtin_task(mode):
    envs = gymnasium.make_vec(BOS, num_envs=4, vectorization_mode=mode, max_episode_steps=2)
    try:
        assert isinstance(envs.single_observation_space, AnyText)
        obs, info = envs.reset(seed=0)
        assert type(obs) is tuple and len(obs) == 4
        assert all(o.startswith("# Task: Iterated Battle") for o in obs)
        envs.action_space.seed(0)
        actions = envs.action_space.sample()
        assert len(actions) == 4 and set(actions) <= set(HARMLESS_COMMANDS)
        obs, reward, terminated, truncated, info = envs.step(("pwd", PRINT, ALWAYS_0, "ls"))
        assert obs[0].strip() == "/home/agent/workspace"
        assert obs[1] == PRINTED and "strategy.py" in obs[3]
        assert not truncated.any() and not terminated.any() and list(reward) == [0.0] * 4
        obs, reward, terminated, truncated, info = envs.step(("ls",) * 4)
        assert truncated.all() and not terminated.any()  # graded on the truncating step
        assert list(info["exit_status"]) == ["auto_submitted:steps"] * 4
        assert reward[2] > 0.9 and reward[2] > reward[0]
        assert list(reward) == pytest.approx(list(info["normalised_test_score"]))
        obs, *_ = envs.step(("ls",) * 4)  # autoreset (next step): the prompt again
        assert all(o.startswith("# Task: Iterated Battle") for o in obs)
    finally:
        envs.close()
