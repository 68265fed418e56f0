"""One run of a batch as a job: what a backend is handed, what it hands back, and the function
a worker (a local pool process or a Ray task) calls to do it.

A job is plain data (picklable, JSON-able), so the same job runs in a local worker process or on
a Ray node. `execute_job` is the only place a batch starts a run.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class Slots(BaseModel):
    """Resources a job holds while it runs (the pool never hands out more than it has)."""

    cpus: int = 1
    memory_mb: int = 0
    gpus: int = 0


class Job(BaseModel):
    """A run to do: its cell's RunConfig plus where and with what it runs."""

    run_id: str
    """Deterministic from the matrix cell; the run's folder is `<runs_dir>/<run_id>`."""
    cell: str
    """The cell's key in the batch manifest."""
    attempt: int = 1
    config: dict[str, Any]
    """A `RunConfig` as JSON (runs_dir and run_id are set by the job)."""
    runs_dir: str
    slots: Slots = Field(default_factory=Slots)
    cpu_ids: list[int] | None = None
    """CPU cores the worker (and so the run's sandbox) is pinned to; None: not pinned."""
    gpu_ids: list[int] = Field(default_factory=list)
    """GPUs the run may use (CUDA_VISIBLE_DEVICES), chosen by the pool."""
    worker: str | None = None
    """Where the job runs, for the batch's log (`pid 1234` on the local pool); set by the
    backend when it starts the job."""


class JobOutcome(BaseModel):
    """What a finished job reports back: enough for progress, budgets and retries."""

    run_id: str
    cell: str
    attempt: int
    exit_status: str
    """A run's exit status, or `worker_died` when the worker itself vanished."""
    message: str = ""
    task: str = ""
    test_score: float | None = None
    normalised_score: float | None = None
    cost_usd: float = 0.0
    tokens: int = 0
    wall_seconds: float = 0.0


def execute_job(job: Job) -> JobOutcome:
    """Run `job` in this process: pin CPUs, expose its GPUs, run, summarise.

    SIGINT and SIGTERM become KeyboardInterrupt, which the runner records as an `interrupted`
    run before this returns; so a batch stops its runs by signalling their workers."""
    from rgym.runs.runner import RunConfig, RunResult, run

    if job.cpu_ids and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, job.cpu_ids)
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in job.gpu_ids)

    def _stop(signum, frame):
        raise KeyboardInterrupt

    old = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    config = RunConfig.model_validate(
        {**job.config, "runs_dir": job.runs_dir, "run_id": job.run_id}
    )
    try:
        result: RunResult = run(config)
    except KeyboardInterrupt:
        return JobOutcome(
            run_id=job.run_id,
            cell=job.cell,
            attempt=job.attempt,
            exit_status="interrupted",
            message="interrupted before the episode ended",
            task=config.task,
        )
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    t = result.totals
    return JobOutcome(
        run_id=job.run_id,
        cell=job.cell,
        attempt=job.attempt,
        exit_status=result.exit_status,
        message=result.message,
        task=result.task_id,
        test_score=result.test_score,
        normalised_score=result.normalised_score,
        cost_usd=t.cost_usd,
        tokens=t.prompt_tokens + t.completion_tokens,
        wall_seconds=t.wall_seconds,
    )


def run_dir_of(job: Job) -> Path:
    return Path(job.runs_dir) / job.run_id
