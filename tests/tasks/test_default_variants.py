"""The default variants end to end (slow): baseline and reference through real sandboxes and
graders (`rgym verify`), and each task's demonstration replayed through the env."""

from __future__ import annotations

import pytest

import rgym
from rgym.agent.replay import load_actions
from rgym.grading.runner import better
from rgym.tasks.registry import get_task
from rgym.tasks.verify import verify_task
from tests.tasks.conftest import requires_bwrap

pytestmark = [requires_bwrap, pytest.mark.slow]

TASKS = ["house-price", "house-price-l1", "sat-heuristic", "prisoners-dilemma", "blotto"]
MLGYM_BASELINES = {"prisoners-dilemma": 2.3716, "blotto": -0.2480}
"""MLGym's published baseline scores; rgym plays the same games with seeded simulations."""


@pytest.mark.parametrize("task", TASKS)
def test_verify_default(task):
    row = verify_task(get_task(task))
    assert row.ok, row.problems
    assert row.seconds < 120
    if task in MLGYM_BASELINES:  # within sampling noise of 10,000 games (about 0.005)
        assert row.baseline.score == pytest.approx(MLGYM_BASELINES[task], abs=0.015)


@pytest.mark.parametrize("task", TASKS)
def test_demo_submits_and_beats_the_baseline(task):
    spec = get_task(task)
    env = rgym.make(task)
    try:
        env.reset(seed=0)
        for item in load_actions(spec.path(spec.demo)):
            _, reward, terminated, truncated, info = env.step(item["action"])
            if terminated or truncated:
                break
        assert info["exit_status"] == "submitted"
        assert better(info["test_score"], spec.baseline_score(), spec.metric.direction)
        assert reward > 0
    finally:
        env.close()
