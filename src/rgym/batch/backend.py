"""The contract between the batch driver and where runs execute (a local pool, or Ray).

The driver owns planning, retries, budgets and the record of attempts; a backend only starts
jobs, reports how they ended, and stops them when asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rgym.batch.job import Job, JobOutcome


@dataclass
class JobEnd:
    """A job that ended: its outcome, or why there is none (the worker died, with evidence)."""

    job: Job
    outcome: JobOutcome | None
    died: str | None = None
    """Set when the worker vanished (e.g. 'worker process killed by SIGKILL'); outcome is None."""
    worker_seconds: float | None = None
    """How long the job function ran in the worker, where the backend measures it (the rest of
    the time from submit to end is the backend's overhead)."""


class Backend(Protocol):
    name: str

    def capacity(self) -> dict[str, int]:
        """Total {'cpus', 'memory_mb', 'gpus'} this backend can run at once."""
        ...

    def free(self) -> dict[str, int]:
        """What is free now (capacity minus what running jobs hold)."""
        ...

    def submit(self, job: Job) -> None:
        """Start `job` now; the caller has checked that its slots fit in `free()`. The backend
        fills in job.cpu_ids / job.gpu_ids where it pins them."""
        ...

    def running(self) -> list[Job]: ...

    def wait(self, timeout: float) -> list[JobEnd]:
        """Jobs that ended since the last call, waiting up to `timeout` seconds for one."""
        ...

    def interrupt(self) -> None:
        """Ask every running job to stop (its run is recorded as interrupted); `wait` then
        reports them as they end."""
        ...

    def shutdown(self) -> None:
        """Stop workers; kill what is left. Idempotent."""
        ...
