"""The batch driver: plan the matrix, resume what a stopped batch left, start what fits on the
backend, retry infrastructure failures, hold the batch's limits, and write the report.

The run folders are the truth: when a job ends the driver reads its record, not what the worker
said, so a worker that died after writing its result still counts as finished. Every decision
is appended to state.jsonl as it is made.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgym.batch.backend import Backend, JobEnd
from rgym.batch.job import Job, JobOutcome, Slots, execute_job
from rgym.batch.local import LocalPool, Runner
from rgym.batch.plan import Cell, open_batch, plan_cells
from rgym.batch.progress import BatchProgress, Tally
from rgym.batch.spec import FLAGS, BatchSpec, check_agents, check_matrix
from rgym.batch.state import (
    FINAL_STATUSES,
    RUNS,
    STATE,
    RunSummary,
    StateLog,
    check_writable,
    lock_batch,
    next_attempt,
    read_result,
    record_final_failure,
    retire,
    scan_batch,
    summarise,
)
from rgym.errors import ConfigError

MIN_FREE_MB = 256
"""Free disk a batch folder needs before anything starts (records are small; a full disk
mid-batch would lose results)."""
POLL_SECONDS = 0.25
"""How often the driver looks at limits and signals while runs are going."""


@dataclass
class BatchResult:
    """How a batch invocation ended."""

    out: Path
    total: int
    tally: Tally
    stopped_by: str | None = None
    """interrupt (Ctrl-C or SIGTERM), kill (a second one), wall, or cost; None: ran out."""
    infra_failed: int = 0
    """Cells whose last allowed attempt failed on infrastructure (rerun by --resume)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent planning, scanning (resume), running and reporting."""
    overheads: list[float] = field(default_factory=list)
    """Per job: seconds from submit to end, less the time the worker spent in the job."""
    report: Path | None = None

    @property
    def finished(self) -> int:
        """Cells whose record is final (scored, or failed by the agent)."""
        return self.tally.done + self.tally.failed - self.infra_failed

    @property
    def exit_code(self) -> int:
        """0: every cell has a final record; 130: stopped by Ctrl-C; 1: anything else."""
        if self.stopped_by in ("interrupt", "kill"):
            return 130
        return 0 if self.finished == self.total else 1


class _Stop:
    """Set from signal handlers (which must not print or lock); read by the loop."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.kill = False
        self.announced = False

    def on_signal(self, signum: int, frame: Any) -> None:
        if self.reason == "interrupt":
            self.kill = True
        else:
            self.reason = "interrupt"


def make_backend(spec: BatchSpec, runner: Runner = execute_job) -> Backend:
    """The backend `spec` names: the local pool, or Ray (imported only when asked for)."""
    if spec.backend == "ray":
        if runner is not execute_job:
            raise ConfigError("a custom job function runs on the local backend only")
        try:
            from rgym.batch.ray_backend import RayBackend

            return RayBackend(address=spec.ray_address, ship_records=spec.ray_ship_records)
        except ImportError as e:
            raise ConfigError(
                f"the Ray backend is not available ({e}); install it with: pip install 'rgym[ray]'"
            ) from None
    return LocalPool(cpus=spec.cpus, memory_mb=spec.memory_mb, gpus=spec.gpus, runner=runner)


def _check_fits(cells: list[Cell], capacity: dict[str, int], backend: str) -> None:
    seen: set[tuple[str, int, int, int]] = set()
    for cell in cells:
        key = (cell.task_id, cell.slots.cpus, cell.slots.memory_mb, cell.slots.gpus)
        if key in seen:
            continue
        seen.add(key)
        s = cell.slots
        short = [
            f"{need} {what} (the {backend} backend has {capacity.get(what, 0)})"
            for what, need in (("cpus", s.cpus), ("memory_mb", s.memory_mb), ("gpus", s.gpus))
            if need > capacity.get(what, 0)
        ]
        if short:
            hint = (
                " Pass --cpus-per-run N (or `resources: {cpus: N}` in the spec)"
                if (s.cpus > capacity.get("cpus", 0))
                else ""
            )
            raise ConfigError(
                f"a run of {cell.task_id}:{cell.variant} needs {', '.join(short)}; it could "
                f"never start.{hint}"
            )


def _fits(slots: Slots, free: dict[str, int]) -> bool:
    return (
        slots.cpus <= free.get("cpus", 0)
        and slots.memory_mb <= free.get("memory_mb", 0)
        and slots.gpus <= free.get("gpus", 0)
    )


def _label(cell: Cell) -> str:
    return cell.task_id if cell.variant == "default" else f"{cell.task_id}:{cell.variant}"


def run_batch(
    spec: BatchSpec,
    out: Path,
    *,
    backend: Backend | None = None,
    runner: Runner = execute_job,
    resume: bool = False,
    progress: BatchProgress | None = None,
    report: bool = True,
    check_agents_first: bool = True,
    min_free_mb: int = MIN_FREE_MB,
    source: str = FLAGS,
) -> BatchResult:
    """Run `spec`'s matrix into the batch folder `out`; see docs/batch.md.

    Args:
        backend: where jobs run (default: the one the spec names, built here).
        runner: the job function of the default local pool (tests and benchmarks pass an
            instant fake; it must be importable by name).
        resume: continue the batch already in `out` (same matrix); finished runs are skipped.
        progress: the live view (default: plain lines, only events).
        check_agents_first: build each agent once before starting (a missing API key or
            actions file is one error, not a failed run per cell).
        source: what errors name as the spec (its file, or the flags).

    Raises:
        ConfigError: (BatchSpecError among them) the spec, the folder or the pool cannot run
            this batch; raised before anything starts.
    """
    out = Path(out).absolute()
    t0 = time.monotonic()
    tasks = check_matrix(spec, source)
    if check_agents_first and runner is execute_job:
        check_agents(spec, tasks, source)
    cells = plan_cells(spec, tasks)
    own_backend = backend is None
    backend = backend if backend is not None else make_backend(spec, runner)
    try:
        _check_fits(cells, backend.capacity(), backend.name)
        check_writable(out, min_free_mb)
        resumed = open_batch(out, spec, cells, resume=resume)
        lock = lock_batch(out)
    except BaseException:
        if own_backend:
            backend.shutdown()
        raise
    timings = {"plan": time.monotonic() - t0}
    log = StateLog(out / STATE)
    try:
        t1 = time.monotonic()
        scan = scan_batch(out, cells, tasks)
        timings["scan"] = time.monotonic() - t1
        tally = Tally(
            total=len(cells),
            directions={_label(c): str(tasks[(c.task, c.variant)].metric.direction) for c in cells},
            cost_usd=scan.spent_usd,
            tokens=scan.tokens,
        )
        by_id = {c.run_id: c for c in cells}
        for run_id, summary in scan.finished.items():
            tally.count_final(_label(by_id[run_id]), summary.exit_status, summary.test_score)
        progress = progress if progress is not None else BatchProgress(quiet=True)
        progress.tally = tally
        result = BatchResult(out=out, total=len(cells), tally=tally, timings=timings)
        log.write(
            "planned",
            name=spec.name,
            cells=len(cells),
            finished=len(scan.finished),
            to_run=len(scan.todo),
            resume=resumed,
            backend=backend.name,
            capacity=backend.capacity(),
            workers=spec.workers,
            retries=spec.retries,
            max_cost_usd=spec.max_cost_usd,
            max_wall_seconds=spec.max_wall_seconds,
            spent_usd=round(scan.spent_usd, 6),
        )
        for run_id, attempt, status in scan.recovered:
            log.write(
                "interrupted",
                run_id=run_id,
                attempt=attempt,
                exit_status="interrupted",
                found=status,
                message="found unfinished by --resume; moved to attempts/",
            )
        if resumed:
            for run_id, summary in scan.finished.items():
                log.write("skipped", run_id=run_id, exit_status=summary.exit_status, why="finished")
        _Scheduler(spec, out, backend, tasks, scan.todo, log, progress, result).run()
        timings["run"] = time.monotonic() - t1 - timings["scan"]
        if report and result.stopped_by != "kill":
            t2 = time.monotonic()
            result.report = write_batch_report(out, include_unisolated=spec.sandbox == "local")
            timings["report"] = time.monotonic() - t2
        return result
    finally:
        if own_backend:
            backend.shutdown()
        log.close()
        os.close(lock)


class _Scheduler:
    """The loop: start what fits, collect what ends, retry, stop at limits or signals."""

    def __init__(
        self,
        spec: BatchSpec,
        out: Path,
        backend: Backend,
        tasks: dict[tuple[str, str], Any],
        todo: list[Cell],
        log: StateLog,
        progress: BatchProgress,
        result: BatchResult,
    ):
        self.spec, self.out, self.backend, self.tasks = spec, out, backend, tasks
        self.log, self.progress, self.result = log, progress, result
        self.tally = result.tally
        self.queue: deque[Cell] = deque(todo)
        self.cells = {c.run_id: c for c in todo}
        self.attempt = {c.run_id: next_attempt(out, c.run_id) for c in todo}
        self.infra_failures: dict[str, int] = {}
        self.submitted: dict[str, float] = {}
        self.stop = _Stop()
        self.cost_hit = False
        self.interrupt_sent = False
        self.started = time.monotonic()

    def run(self) -> None:
        handlers = self._install_signals()
        try:
            with self.progress:
                self._loop()
        finally:
            for signum, old in handlers.items():
                signal.signal(signum, old)

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {s: signal.signal(s, self.stop.on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def _loop(self) -> None:
        while self.queue or self.backend.running():
            if self.stop.kill:
                self._kill()
                return
            self._check_limits()
            if self.stop.reason and not self.interrupt_sent and self.backend.running():
                self.interrupt_sent = True
                self.backend.interrupt()
            if self.stop.reason or self.cost_hit:
                self._skip_queued()
            else:
                self._start_what_fits()
            self._count()
            for end in self.backend.wait(POLL_SECONDS):
                self._ended(end)
            self._count()
            self.progress.refresh()
        if self.stop.reason:
            self.result.stopped_by = self.stop.reason
        elif self.cost_hit:
            self.result.stopped_by = "cost"
        self.log.write(
            "stop",
            reason=self.result.stopped_by or "done",
            done=self.tally.done,
            failed=self.tally.failed,
            interrupted=self.tally.interrupted,
            skipped=self.tally.skipped,
            spent_usd=round(self.tally.cost_usd, 6),
        )

    def _count(self) -> None:
        self.tally.queued = len(self.queue)
        self.tally.running = len(self.backend.running())

    def _check_limits(self) -> None:
        spec, tally = self.spec, self.tally
        if self.stop.reason == "interrupt" and not self.stop.announced:
            self.stop.announced = True
            n = len(self.backend.running())
            self.log.write("stop", reason="interrupt", running=n)
            self.tally.note = f"stopping: interrupting {n} running run(s); Ctrl-C again kills them"
            self.progress.event(self.tally.note)
        if (
            spec.max_wall_seconds is not None
            and not self.stop.reason
            and time.monotonic() - self.started >= spec.max_wall_seconds
        ):
            self.stop.reason = "wall"
            self.log.write(
                "budget", kind="wall", limit=spec.max_wall_seconds, running=len(self.queue)
            )
            self.tally.note = (
                f"the batch's wall-clock limit ({spec.max_wall_seconds:g} s) is reached: "
                "running runs are interrupted, nothing new starts"
            )
            self.progress.event(self.tally.note)
        if spec.max_cost_usd is not None and not self.cost_hit:
            if tally.cost_usd >= spec.max_cost_usd:
                self.cost_hit = True
                self.log.write(
                    "budget",
                    kind="cost",
                    limit=spec.max_cost_usd,
                    spent_usd=round(tally.cost_usd, 6),
                    running=len(self.backend.running()),
                )
                self.tally.note = (
                    f"the batch's cost limit (${spec.max_cost_usd:g}) is reached: nothing new "
                    "starts; runs in flight finish within their own budgets"
                )
                self.progress.event(self.tally.note)

    def _skip_queued(self) -> None:
        why = "cost" if self.cost_hit and not self.stop.reason else str(self.stop.reason)
        while self.queue:
            cell = self.queue.popleft()
            self.tally.skipped += 1
            self.log.write(
                "skipped", run_id=cell.run_id, attempt=self.attempt[cell.run_id], why=why
            )

    def _start_what_fits(self) -> None:
        free = self.backend.free()
        running = len(self.backend.running())
        for cell in list(self.queue):
            if self.spec.workers is not None and running >= self.spec.workers:
                return
            if free.get("cpus", 0) <= 0:
                return
            if not _fits(cell.slots, free):
                continue
            self.queue.remove(cell)
            job: Job = cell.job(self.out / RUNS, self.attempt[cell.run_id])
            self.backend.submit(job)
            self.submitted[cell.run_id] = time.monotonic()
            running += 1
            free = self.backend.free()
            self.log.write(
                "started",
                run_id=cell.run_id,
                cell=cell.cell,
                attempt=job.attempt,
                worker=job.worker,
                cpu_ids=job.cpu_ids,
                gpu_ids=job.gpu_ids,
            )

    def _ended(self, end: JobEnd) -> None:
        job = end.job
        cell = self.cells[job.run_id]
        task = self.tasks[(cell.task, cell.variant)]
        seconds = time.monotonic() - self.submitted.pop(job.run_id, time.monotonic())
        if end.worker_seconds is not None:
            self.result.overheads.append(max(0.0, seconds - end.worker_seconds))
        record = read_result(self.out / RUNS / job.run_id)
        summary = _summary(record, end)
        self.tally.cost_usd += summary.cost_usd
        self.tally.tokens += summary.tokens
        self.tally.ended_now += 1
        self._count()
        status = summary.exit_status or "infra_error"
        label = _label(cell)
        common = {"run_id": job.run_id, "attempt": job.attempt, "seconds": round(seconds, 3)}
        if status in FINAL_STATUSES:
            self.tally.count_final(label, status, summary.test_score)
            self.log.write(
                "ended",
                **common,
                exit_status=status,
                test_score=summary.test_score,
                cost_usd=summary.cost_usd,
                tokens=summary.tokens,
                run_seconds=summary.wall_seconds,
            )
            self.progress.run_ended(cell.cell, status, summary.test_score, seconds)
            return
        if status != "interrupted" and self.interrupt_sent:
            # stopped by us: whatever the run made of that, resume must run it again
            summary.message = f"stopped by the batch, then ended with {status}: {summary.message}"
            status = "interrupted"
        if status == "interrupted":
            if self._record_interrupted(cell, job.attempt, summary.message or "interrupted"):
                self.progress.run_ended(cell.cell, "interrupted (resumable)", None, seconds)
            return
        # the infrastructure's failure: a dead worker, infra_error, or a job that raised
        failures = self.infra_failures[job.run_id] = self.infra_failures.get(job.run_id, 0) + 1
        message = summary.message or f"ended with {status}"
        if failures <= self.spec.retries and not self.stop.reason:
            retire(self.out, cell, task, job.attempt, "infra_error", message)
            self.attempt[job.run_id] = job.attempt + 1
            self.queue.appendleft(cell)
            self.tally.retried += 1
            self.log.write(
                "retry",
                **common,
                exit_status="infra_error",
                message=message,
                next_attempt=job.attempt + 1,
            )
            self.progress.event(
                f"{cell.cell}: attempt {job.attempt} failed on infrastructure ({message}); "
                f"retrying ({failures}/{self.spec.retries})"
            )
            return
        if record is None:
            record_final_failure(self.out, cell, task, job.attempt, "infra_error", message)
        self.tally.count_final(label, "infra_error", None)
        self.result.infra_failed += 1
        self.log.write(
            "ended", **common, exit_status="infra_error", message=message, retries_left=0
        )
        self.progress.event(f"{cell.cell}: infra_error after {failures} attempt(s): {message}")

    def _record_interrupted(self, cell: Cell, attempt: int, message: str) -> bool:
        """An interrupted attempt goes to attempts/ (its cell runs again on --resume); one
        that never began (no run folder) leaves no record and is logged as skipped. Returns
        whether the run had begun."""
        if not (self.out / RUNS / cell.run_id).is_dir():
            self.tally.skipped += 1
            self.log.write(
                "skipped", run_id=cell.run_id, attempt=attempt, why=self.stop.reason or "stop"
            )
            return False
        task = self.tasks[(cell.task, cell.variant)]
        retire(self.out, cell, task, attempt, "interrupted", message)
        self.attempt[cell.run_id] = attempt + 1
        self.tally.interrupted += 1
        self.log.write(
            "interrupted",
            run_id=cell.run_id,
            attempt=attempt,
            exit_status="interrupted",
            message=message,
        )
        return True

    def _kill(self) -> None:
        """A second Ctrl-C: kill the workers now; their runs are recorded as interrupted."""
        running = list(self.backend.running())
        self.backend.shutdown()
        for job in running:
            why = "killed by a second Ctrl-C before the run ended"
            self._record_interrupted(self.cells[job.run_id], job.attempt, why)
        self._skip_queued()
        self.result.stopped_by = "kill"
        self.log.write("stop", reason="kill", interrupted=len(running))
        self.progress.event(f"killed: {len(running)} run(s) recorded as interrupted")


def _summary(record: dict[str, Any] | None, end: JobEnd) -> RunSummary:
    """What ended: the record when there is one (the truth), else the worker's word."""
    if record is not None:
        return summarise(record)
    if end.died is not None:
        return RunSummary(exit_status="infra_error", message=end.died)
    outcome: JobOutcome | None = end.outcome
    if outcome is None:
        return RunSummary(exit_status="infra_error", message="the job ended without an outcome")
    return RunSummary(
        exit_status=outcome.exit_status,
        task=outcome.task,
        test_score=outcome.test_score,
        cost_usd=outcome.cost_usd,
        tokens=outcome.tokens,
        wall_seconds=outcome.wall_seconds,
        message=outcome.message,
    )


def write_batch_report(out: Path, *, include_unisolated: bool = False) -> Path | None:
    """`rgym report` tables and plots of the batch into `out/report/`; None when no run has a
    record yet."""
    from rgym.metrics.report import build_report
    from rgym.metrics.runs import NoRunsFound
    from rgym.metrics.write import write_report

    try:
        report = build_report([out], include_unisolated=include_unisolated)
    except NoRunsFound:
        return None
    written = write_report(report, out / "report", "md")
    return written[0] if written else out / "report"
