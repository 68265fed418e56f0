"""The local backend: a pool of worker processes on this machine, with resource slots.

Each worker runs one job at a time, pinned to the CPU cores of its slot (the run's sandbox
inherits the affinity), with its GPUs in CUDA_VISIBLE_DEVICES. The pool never hands out more
cores, memory or GPUs than it has. Workers are spawned, not forked (the driver has threads),
sit in their own process group (a terminal's Ctrl-C reaches the driver only, which stops runs
one by one; a worker is signalled only once it has said it is ready, its handlers in place),
and are killed by the kernel when the driver dies (PR_SET_PDEATHSIG: strictly, when the thread
that started them ends, so start them from the thread that runs the batch), so a SIGKILLed
batch leaves no orphan runs. A worker that dies is seen from its process sentinel, reported
with its exit code or signal, and replaced when the next job starts.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from rgym.batch.backend import JobEnd
from rgym.batch.job import Job, JobOutcome, execute_job
from rgym.errors import ConfigError
from rgym.sandbox import gpu

Runner = Callable[[Job], JobOutcome]
PR_SET_PDEATHSIG = 1
_in_job = False
_stop_requested = False


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when the driver dies (Linux)."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    if os.getppid() != parent_pid:  # the driver died before the request took hold
        os._exit(1)


def _stop(signum: int, frame: Any) -> None:
    """SIGINT/SIGTERM: stop the job in hand (its run is recorded as interrupted), and start no
    other: a request that comes just before the job does still stops it."""
    global _stop_requested
    _stop_requested = True
    if _in_job:
        raise KeyboardInterrupt


def _worker_main(conn: Connection, runner: Runner, parent_pid: int) -> None:
    """A worker's life: say when it is ready (handlers in place; the pool signals no worker
    before that), then run jobs one at a time until told to stop."""
    global _in_job
    _die_with_parent(parent_pid)
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    if runner is execute_job:
        import rgym.runs.runner  # noqa: F401  (warm: the first job should not pay the import)
    conn.send(("ready", None, 0.0))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        start = time.monotonic()
        try:
            _in_job = True
            if _stop_requested:
                raise KeyboardInterrupt
            reply: tuple[str, Any] = ("outcome", runner(job))
        except KeyboardInterrupt:
            reply = ("outcome", _interrupted(job, "stopped; the job function did not finish"))
        except Exception as e:
            tail = "".join(traceback.format_exception(e)[-3:]).strip()
            reply = ("error", f"the job raised {type(e).__name__}: {e}\n{tail}")
        finally:
            _in_job = False
        conn.send((*reply, time.monotonic() - start))
        if reply[0] == "error":  # what the job left behind is unknown: end, be replaced
            return


def _interrupted(job: Job, message: str) -> JobOutcome:
    return JobOutcome(
        run_id=job.run_id,
        cell=job.cell,
        attempt=job.attempt,
        exit_status="interrupted",
        message=message,
    )


def _how_it_ended(code: int | None) -> str:
    if code is None:
        return "vanished without an exit status"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def available_cpus(count: int | None) -> list[int]:
    """The cores the pool pins runs to: the first `count` of those this process may use."""
    mine = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not mine:
        mine = list(range(os.cpu_count() or 1))
    if count is None:
        return mine
    if count > len(mine):
        raise ConfigError(
            f"the pool was given {count} CPUs but this process may use {len(mine)} "
            f"({','.join(map(str, mine))}); lower --cpus"
        )
    return mine[:count]


def available_gpus(count: int | None) -> list[int]:
    """The GPUs rgym may use (CUDA_VISIBLE_DEVICES, else /dev/nvidia<N>, as a sandbox chooses
    them: rgym.sandbox.gpu); the first `count` of them."""
    found = [int(g) for g in gpu.visible() if g.isdigit()]
    if count is None:
        return found
    if not found:
        return list(range(count))  # none detected: trust what the user says the machine has
    if count > len(found):
        raise ConfigError(
            f"the pool was given {count} GPUs but {len(found)} are visible; lower --gpus"
        )
    return found[:count]


def machine_memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    ready: bool = False
    """It said it is ready: its signal handlers are in place and its job has been sent."""
    job: Job | None = None
    started: float = 0.0
    signalled: bool = False


class LocalPool:
    """Worker processes with CPU, memory and GPU slots (see the module docstring).

    Args:
        cpus: cores to use (default: all this process may use).
        memory_mb: memory to hand out (default: the machine's).
        gpus: GPUs to hand out (default: the visible ones).
        runner: the job function a worker calls (default: `execute_job`, a real run); must be
            importable by name, as spawned workers import it.
    """

    name = "local"

    def __init__(
        self,
        *,
        cpus: int | None = None,
        memory_mb: int | None = None,
        gpus: int | None = None,
        runner: Runner = execute_job,
    ):
        self._cpu_ids = available_cpus(cpus)
        self._memory_mb = memory_mb if memory_mb is not None else machine_memory_mb()
        self._gpu_ids = available_gpus(gpus)
        self._runner = runner
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []
        """Workers holding a job: running it, or still starting with it waiting to be sent."""
        self._closed = False

    def capacity(self) -> dict[str, int]:
        return {
            "cpus": len(self._cpu_ids),
            "memory_mb": self._memory_mb,
            "gpus": len(self._gpu_ids),
        }

    def free(self) -> dict[str, int]:
        jobs = self.running()
        return {
            "cpus": len(self._cpu_ids) - sum(len(j.cpu_ids or []) for j in jobs),
            "memory_mb": self._memory_mb - sum(j.slots.memory_mb for j in jobs),
            "gpus": len(self._gpu_ids) - sum(len(j.gpu_ids) for j in jobs),
        }

    def running(self) -> list[Job]:
        return [w.job for w in self._busy if w.job is not None]

    def workers(self) -> list[int]:
        """Pids of the live workers (idle and busy)."""
        return [w.process.pid for w in self._idle + self._busy]

    def submit(self, job: Job) -> None:
        if self._closed:
            raise RuntimeError("the pool was shut down")
        held_cpus = {c for j in self.running() for c in j.cpu_ids or []}
        held_gpus = {g for j in self.running() for g in j.gpu_ids}
        cpus = [c for c in self._cpu_ids if c not in held_cpus][: job.slots.cpus]
        gpus = [g for g in self._gpu_ids if g not in held_gpus][: job.slots.gpus]
        free = self.free()
        if (
            len(cpus) < job.slots.cpus
            or len(gpus) < job.slots.gpus
            or (job.slots.memory_mb > free["memory_mb"])
        ):
            raise RuntimeError(f"job {job.run_id} needs {job.slots}, more than is free: {free}")
        job.cpu_ids, job.gpu_ids = cpus, gpus
        while True:
            worker = self._idle.pop() if self._idle else self._start_worker()
            job.worker = f"pid {worker.process.pid}"
            worker.job, worker.started, worker.signalled = job, time.monotonic(), False
            if not worker.ready or self._send(worker):
                break
        self._busy.append(worker)

    def _send(self, worker: _Worker) -> bool:
        try:
            worker.conn.send(worker.job)
            return True
        except OSError:  # it died while idle: let it go
            worker.job = None
            self._discard(worker)
            return False

    def _start_worker(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=_worker_main,
            args=(child, self._runner, os.getpid()),
            name="rgym-batch-worker",
        )
        process.start()
        child.close()
        return _Worker(process=process, conn=parent)

    def wait(self, timeout: float) -> list[JobEnd]:
        cancelled = [w for w in self._busy if w.signalled and not w.ready]
        if cancelled:
            return [self._cancel(w) for w in cancelled]
        if not self._busy:
            return []
        handles: list[Any] = [w.conn for w in self._busy]
        handles += [w.process.sentinel for w in self._busy]
        ready = set(wait(handles, timeout))
        ends = []
        for worker in list(self._busy):
            if worker.conn in ready or worker.process.sentinel in ready:
                end = self._collect(worker)
                if end is not None:
                    ends.append(end)
        return ends

    def _collect(self, worker: _Worker) -> JobEnd | None:
        """What a worker's pipe or death says: ready (its job is sent now), an outcome, an
        error, or that it died."""
        job = worker.job
        assert job is not None
        try:
            if worker.conn.poll():
                kind, payload, seconds = worker.conn.recv()
                if kind == "ready":
                    worker.ready = True
                    worker.started = time.monotonic()
                    if self._send(worker):
                        return None
                    self._busy.remove(worker)
                    return JobEnd(job=job, outcome=None, died="the new worker died at once")
                self._busy.remove(worker)
                worker.job = None
                if kind == "outcome" and not worker.signalled and worker.process.is_alive():
                    self._idle.append(worker)
                else:  # a stopped worker starts nothing more; one whose job raised is replaced
                    self._discard(worker)
                if kind == "outcome":
                    return JobEnd(job=job, outcome=payload, worker_seconds=seconds)
                return JobEnd(
                    job=job,
                    outcome=JobOutcome(
                        run_id=job.run_id,
                        cell=job.cell,
                        attempt=job.attempt,
                        exit_status="infra_error",
                        message=payload,
                    ),
                    worker_seconds=seconds,
                )
        except (EOFError, OSError):
            pass
        worker.process.join(timeout=5)  # it is dead or dying: its pipe closed, or its sentinel
        self._busy.remove(worker)
        worker.job = None
        pid, code = worker.process.pid, worker.process.exitcode
        self._discard(worker)
        when = (
            f"{time.monotonic() - worker.started:.1f} s into attempt {job.attempt}"
            if worker.ready
            else f"while starting, before attempt {job.attempt} began"
        )
        return JobEnd(
            job=job,
            outcome=None,
            died=f"worker process {pid} {_how_it_ended(code)} {when}",
        )

    def _cancel(self, worker: _Worker) -> JobEnd:
        """A job whose worker was still starting when the stop came: it never begins."""
        job = worker.job
        assert job is not None
        self._busy.remove(worker)
        worker.job = None
        self._discard(worker)
        return JobEnd(job=job, outcome=_interrupted(job, "stopped before the run started"))

    def _discard(self, worker: _Worker) -> None:
        if worker in self._idle:
            self._idle.remove(worker)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()

    def interrupt(self) -> None:
        """Running jobs get SIGINT, once (their runs record themselves as interrupted); a job
        whose worker is still starting never begins."""
        for worker in self._busy:
            if worker.signalled:
                continue
            worker.signalled = True
            if not worker.ready:  # `wait` reports it
                continue
            try:
                os.kill(worker.process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def shutdown(self) -> None:
        """Idle workers are told to exit; busy ones (and any that do not exit) are killed."""
        if self._closed:
            return
        self._closed = True
        for worker in self._idle:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in self._busy:
            worker.process.kill()
        deadline = time.monotonic() + 5
        for worker in self._idle + self._busy:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.conn.close()
        self._idle, self._busy = [], []
