"""Builders for run directories in MLGym's and rgym's on-disk formats, written under tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

MLGYM_SUFFIX = "__better_thought_action_parser_with_insert__t-0.00__p-0.95__c-4.00__install-0"


def write_mlgym_run(
    root: Path,
    model: str,
    task: str,
    run: int,
    agent: list[dict[str, Any]] | None = None,
    baseline: dict[str, Any] | None = None,
    cost: float | None = 0.5,
    tokens: tuple[int, int] = (1000, 100),
    exec_times: list[float] | None = None,
) -> Path:
    """One MLGym run folder: results.json (keys omitted when None) and <task>.traj."""
    run_dir = root / f"metagen-{model}__{task}{MLGYM_SUFFIX}_run_{run}"
    run_dir.mkdir(parents=True)
    results: dict[str, Any] = {}
    if agent is not None:
        results["agent"] = agent
    if baseline is not None:
        results["baseline"] = baseline
    (run_dir / "results.json").write_text(json.dumps(results))
    steps = [
        {"action": "validate", "observation": "ok", "thought": "check", "execution_time": t}
        for t in (exec_times or [])
    ]
    stats = {"tokens_sent": tokens[0], "tokens_received": tokens[1], "api_calls": 3}
    if cost is not None:
        stats["total_cost"] = cost
    traj = {
        "trajectory": steps,
        "history": [],
        "info": {"model_stats": stats, "exit_status": "submitted", "score": []},
    }
    (run_dir / f"{task}.traj").write_text(json.dumps(traj))
    return run_dir


def write_rgym_run(root: Path, name: str, **overrides: Any) -> Path:
    """One rgym run directory: result.json (defaults from the documented schema) and manifest."""
    result: dict[str, Any] = {
        "schema_version": 1,
        "run_id": name,
        "task_id": "titanic",
        "variant": "default",
        "agent": "replay",
        "model": "demo-actions",
        "seed": 0,
        "exit_status": "submitted",
        "metric": "accuracy",
        "direction": "max",
        "baseline_score": 0.77,
        "reference_score": 0.82,
        "dev_scores": [0.78, 0.80],
        "test_score": 0.81,
        "test_metrics": {"accuracy": 0.81},
        "normalised_score": 0.8,
        "totals": {
            "steps": 5,
            "model_calls": 3,
            "prompt_tokens": 1000,
            "completion_tokens": 200,
            "cost_usd": 0.01,
            "wall_seconds": 3.2,
            "validations": 2,
        },
    }
    result.update(overrides)
    run_dir = root / name
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_text(json.dumps(result))
    (run_dir / "manifest.json").write_text(json.dumps({"run_id": name}))
    return run_dir


def build_small_pool(root: Path) -> Path:
    """Three MLGym tasks x three models, with the edge cases the hand-computed tests rely on.

    Sorted folder order is claude < gpt4o < llama (all share the ``metagen-`` prefix).

    regressionKaggleHousePrice (r2, max). Baseline: claude's run (first in sorted order) has no
    baseline key, so the first run that has one is gpt4o run_0 with 0.80 (gpt4o run_1 and llama
    say 0.75, which must not be used).
      claude run_0: [r2 0.90, {rmse only}] -> best 0.90, last missing (last entry lacks r2)
      gpt4o  run_0: [0.85, 0.90] -> best 0.90, last 0.90; run_1: [0.88, 0.86] -> 0.88 / 0.86
      llama  run_0: [0.70] -> 0.70 / 0.70 (worse than the baseline: infeasible)
    3SATTime (Time, min), baseline 16.0; claude has no run at all.
      gpt4o run_0: [12.0, 13.0] -> best 12, last 13;  llama run_0: [15.0] -> 15 / 15
    blotto (Score, max), baseline -0.248 (negative: the baseline is infeasible).
      claude run_0: agent list never reports Score -> no best, no last (missing)
      gpt4o  run_0: [0.10, 0.05] -> best 0.10, last 0.05;  llama run_0: [0.20] -> 0.20 / 0.20
    """
    reg, sat, blotto = "regressionKaggleHousePrice", "3SATTime", "blotto"
    write_mlgym_run(root, "claude", reg, 0, agent=[{"r2": 0.90}, {"rmse": 3.0}], cost=1.0)
    write_mlgym_run(root, "gpt4o", reg, 0, [{"r2": 0.85}, {"r2": 0.90}], {"r2": 0.80}, cost=2.0)
    write_mlgym_run(root, "gpt4o", reg, 1, [{"r2": 0.88}, {"r2": 0.86}], {"r2": 0.75}, cost=2.0)
    write_mlgym_run(root, "llama", reg, 0, [{"r2": 0.70}], {"r2": 0.75}, cost=0.5)
    write_mlgym_run(root, "gpt4o", sat, 0, [{"Time": 12.0}, {"Time": 13.0}], {"Time": 16.0})
    write_mlgym_run(root, "llama", sat, 0, [{"Time": 15.0}], {"Time": 16.0}, cost=0.5)
    write_mlgym_run(root, "claude", blotto, 0, [{"Other": 1.0}], {"Score": -0.248}, cost=1.0)
    write_mlgym_run(root, "gpt4o", blotto, 0, [{"Score": 0.10}, {"Score": 0.05}], cost=2.0)
    write_mlgym_run(root, "llama", blotto, 0, [{"Score": 0.20}], {"Score": -0.248}, cost=0.5)
    return root


@pytest.fixture
def small_pool(tmp_path: Path) -> Path:
    return build_small_pool(tmp_path / "mlgym")


@pytest.fixture
def mlgym_run() -> Callable[..., Path]:
    return write_mlgym_run


@pytest.fixture
def rgym_run() -> Callable[..., Path]:
    return write_rgym_run
