"""Run folders for the viewer's tests, written in the real record formats: rgym runs through
`RunRecord` (so the format stays true), MLGym runs and batch folders as those tools write them.

Every run-supplied string a page shows can be set, so the XSS tests can put a payload in each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from rgym.runs.record import RunRecord
from rgym.viewer.server import Viewer, start_in_thread
from rgym.viewer.site import Site

XSS = [
    "<script>window.__xss=1</script>",
    "<img src=x onerror=window.__xss=2>",
    '"><svg onload=window.__xss=3>',
]
"""Each sets window.__xss if it ever runs; the browser tests check it stays undefined."""
MLGYM_NAME = "metagen-gpt4o__{task}__default__t-0.00__p-0.95__c-4.00__install-0_run_{i}"


def write_rgym_run(
    root: Path,
    name: str,
    *,
    task: str = "titanic",
    model: str | None = "demo",
    agent: str = "replay",
    seed: int = 0,
    dev: Sequence[float] = (0.8, 0.85),
    test: float | None = 0.84,
    exit_status: str = "submitted",
    finished: bool = True,
    thought: str = "Look at the data first.",
    observation: str = "total 8\nbaseline.py\ndata\n",
    steps: int = 3,
    model_calls: bool = False,
    artifact: dict[str, str] | None = None,
    baseline: float = 0.77,
    reference: float = 0.86,
    sandbox: str = "bwrap",
    extra_events: Sequence[tuple[str, dict[str, Any]]] = (),
) -> Path:
    """An rgym run: manifest, events (thought, action, observation per step; a validate on
    the last steps; model calls if asked), artefact files, and result.json when finished."""
    record = RunRecord(root / name)
    record.write_manifest(
        {
            "task": task,
            "variant": "default",
            "agent": agent,
            "model": model,
            "seed": seed,
            "sandbox": sandbox,
            "budget": {"max_steps": 50, "max_cost_usd": 1.0},
            "started": "2026-01-01T00:00:00+00:00",
        }
    )
    record.event("reset", seed=seed, seconds=0.1, sandbox=sandbox, isolated=sandbox != "local")
    cost = 0.0
    for step in range(1, steps + 1):
        if model_calls:
            record.event(
                "model_call",
                step=step,
                attempt=1,
                purpose="action",
                model=model,
                outcome="ok",
                prompt_tokens=1000 * step,
                completion_tokens=50,
                cost_usd=0.01,
                latency_s=1.5,
                content=f"{thought}\n```\nls\n```",
            )
            cost += 0.01
        record.event("thought", step=step, thought=thought)
        record.event("action", step=step, action=f"ls -la  # step {step}")
        record.event(
            "observation",
            step=step,
            observation=observation,
            exit_code=0,
            timed_out=False,
            truncated=False,
            seconds=0.01,
        )
    for i, score in enumerate(dev):
        record.event("action", step=steps + i + 1, action="validate")
        record.event(
            "evaluation",
            step=steps + i + 1,
            split="dev",
            status="ok",
            score=score,
            metrics={"accuracy": score},
            message="",
            seconds=0.5,
        )
    for type_, data in extra_events:
        record.event(type_, **data)
    for rel, text in (artifact or {"submission.csv": "PassengerId,Survived\n1,0\n2,1\n"}).items():
        path = record.root / "artifact" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if finished:
        total_steps = steps + len(dev) + 1
        record.event("action", step=total_steps, action="submit")
        if test is not None:
            record.event(
                "evaluation",
                step=total_steps,
                split="test",
                status="ok",
                score=test,
                metrics={"accuracy": test},
                message="",
                seconds=0.5,
            )
        record.write_result(
            {
                "run_dir": str(record.root),
                "task_id": task,
                "variant": "default",
                "agent": agent,
                "model": model,
                "seed": seed,
                "sandbox": sandbox,
                "exit_status": exit_status,
                "ended_by": "submit",
                "message": "",
                "metric": "accuracy",
                "direction": "max",
                "baseline_score": baseline,
                "reference_score": reference,
                "dev_scores": list(dev),
                "best_dev_score": max(dev) if dev else None,
                "test_score": test,
                "test_metrics": {"accuracy": test} if test is not None else {},
                "normalised_score": None
                if test is None
                else (test - baseline) / (reference - baseline),
                "totals": {
                    "steps": total_steps,
                    "model_calls": steps if model_calls else 0,
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "cost_usd": cost,
                    "wall_seconds": 3.0,
                    "validations": len(dev),
                },
                "integrity": {
                    "sandbox": sandbox,
                    "isolated": sandbox != "local",
                    "seed_mode": "secret",
                    "artifact_sha256": "ab" * 32,
                },
            }
        )
    record.close()
    return record.root


def write_mlgym_run(
    root: Path,
    task: str = "battleOfSexes",
    i: int = 0,
    *,
    thought: str = "DISCUSSION\nLook at the strategy.",
    observation: str = "def row_strategy(history):\n    return 0\n",
    scores: Sequence[float] = (1.1, 1.3),
) -> Path:
    """An MLGym run folder: <task>.traj (trajectory, history, info) and results.json."""
    run = root / MLGYM_NAME.format(task=task, i=i)
    run.mkdir(parents=True)
    actions = ["ls", "cat strategy.py", "validate", "submit"]
    steps = [
        {
            "action": a,
            "observation": observation if a != "ls" else "strategy.py\n",
            "thought": thought,
            "response": f"{thought}\n```\n{a}\n```",
            "execution_time": 0.5,
        }
        for a in actions
    ]
    score = [{"Score": v} for v in scores]
    traj = {
        "environment": "mlgym_main",
        "trajectory": steps,
        "history": [{"role": "system", "content": "You are an agent.", "agent": "primary_0"}],
        "info": {
            "model_stats": {
                "total_cost": 0.25,
                "tokens_sent": 1000,
                "tokens_received": 80,
                "api_calls": 4,
            },
            "exit_status": "submitted",
            "score": score,
        },
    }
    (run / f"{task}.traj").write_text(json.dumps(traj))
    (run / "results.json").write_text(json.dumps({"agent": score, "baseline": {"Score": 1.02}}))
    return run


def write_batch(root: Path, name: str, cells: list[dict[str, Any]]) -> Path:
    """A batch folder's plan (batch.json); runs and attempts are written by the caller."""
    batch = root / name
    (batch / "runs").mkdir(parents=True)
    (batch / "batch.json").write_text(
        json.dumps({"name": name, "created": "2026-01-02T00:00:00+00:00", "cells": cells})
    )
    (batch / "state.jsonl").write_text("")
    return batch


def cell(run_id: str, task: str = "titanic", seed: int = 0) -> dict[str, Any]:
    return {
        "cell": f"{task}/demo/s{seed}",
        "run_id": run_id,
        "task": task,
        "variant": "default",
        "agent": "replay",
        "model": "demo",
        "seed": seed,
    }


@pytest.fixture
def runs_root(tmp_path: Path) -> Path:
    """A folder of finished runs of two models on titanic, for pages and the leaderboard."""
    root = tmp_path / "runs"
    for seed in range(2):
        write_rgym_run(
            root,
            f"titanic__a__s{seed}",
            model="model-a",
            seed=seed,
            test=0.80 + seed / 100,
            model_calls=True,
        )
        write_rgym_run(root, f"titanic__b__s{seed}", model="model-b", seed=seed, test=0.85)
    return root


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium driven by Playwright (never a downloaded browser)."""
    from tests.viewer.browser import launch

    with launch() as b:
        yield b


@pytest.fixture
def serve() -> Iterator[Any]:
    """serve(*roots) -> a Viewer on 127.0.0.1 (real uvicorn, free port), stopped after."""
    started: list[Viewer] = []

    def go(*roots: Path) -> Viewer:
        viewer = start_in_thread(Site(list(roots)))
        started.append(viewer)
        return viewer

    yield go
    for viewer in started:
        viewer.stop()
