"""An instant job function for the batch's own tests: it leaves a run record shaped like a real
one (manifest and events first, result last) without a sandbox or a model, so the driver's
logic (budgets, retries, resume, stops) is tested in seconds. Spawned workers import it by name.

A cell's agent options steer it: `fake_cost_usd` (dollars the run reports), `fake_seconds`
(how long it takes), `fake_status` (its exit status; `fake_status_first` for attempt 1 only),
`fake_stop_seconds` (how long it takes to stop when interrupted), `fake_break_on_stop` (it
raises instead of recording the interruption).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rgym.batch.job import Job, JobOutcome
from rgym.runs.record import RunRecord


def fake_job(job: Job) -> JobOutcome:
    options = job.config.get("agent_options", {})
    record = RunRecord(Path(job.runs_dir) / job.run_id)
    record.write_manifest({"task": job.config["task"], "agent": "fake", "model": "fake"})
    record.event("note", message="fake run")
    seconds = float(options.get("fake_seconds", 0.0))
    try:
        time.sleep(seconds)
    except KeyboardInterrupt:  # asked to stop: as the runner does, record it (or break)
        time.sleep(float(options.get("fake_stop_seconds", 0.0)))
        if options.get("fake_break_on_stop"):
            raise RuntimeError("the run broke while it was being stopped") from None
        return _finish(job, record, "interrupted", 0.0, seconds)
    status = str(options.get("fake_status", "submitted"))
    if job.attempt == 1 and "fake_status_first" in options:
        status = str(options["fake_status_first"])
    return _finish(job, record, status, float(options.get("fake_cost_usd", 0.0)), seconds)


def _finish(job: Job, record: RunRecord, status: str, cost: float, seconds: float) -> JobOutcome:
    seed = int(job.config.get("seed", 0))
    score = None if status not in ("submitted", "auto_submitted") else 1.0 + seed / 10
    result: dict[str, Any] = {
        "task_id": job.config["task"],
        "variant": job.config.get("variant", "default"),
        "agent": job.config.get("agent", "replay"),
        "model": job.config.get("model") or "fake",
        "seed": seed,
        "sandbox": "bwrap",
        "exit_status": status,
        "message": "" if score is not None else f"fake {status}",
        "metric": "Score",
        "direction": "max",
        "baseline_score": 1.0,
        "reference_score": 2.0,
        "test_score": score,
        "normalised_score": None if score is None else score - 1.0,
        "totals": {
            "steps": 1,
            "model_calls": 1,
            "prompt_tokens": 100,
            "completion_tokens": 10,
            "cost_usd": cost,
            "wall_seconds": seconds,
        },
        "integrity": {"sandbox": "bwrap", "isolated": True},
    }
    record.write_result(result)
    record.close()
    return JobOutcome(
        run_id=job.run_id,
        cell=job.cell,
        attempt=job.attempt,
        exit_status=status,
        task=job.config["task"],
        test_score=score,
        cost_usd=cost,
        tokens=110,
        wall_seconds=seconds,
    )
