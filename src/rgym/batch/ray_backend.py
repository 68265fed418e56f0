"""The Ray backend of `rgym batch`: each job is a Ray task, on a local Ray instance or a cluster.

Ray places a job by its resources (CPU, memory, GPU); the backend also counts what its running
jobs hold, so the driver can throttle starts against budgets. The driver owns retries, so a task
is never retried by Ray (`max_retries=0`), and a task whose worker or node died comes back as
`JobEnd(died=...)` for the driver to judge.

Stopping a run cleanly needs a real SIGINT in the worker's main thread: Ray's own gentle
`ray.cancel` only marks the interpreter (`_thread.interrupt_main`), which waits until a blocking
call (a sandbox command, a model call) returns. So `interrupt()` sets a stop flag held by a small
actor; a watcher thread beside each run sees it and signals the run, and `execute_job` records
the run as interrupted. What is still running after a grace period is force-cancelled.

Records are written straight into `job.runs_dir` (a path every node reaches), or, with
`ship_records`, into a scratch folder on the node that is packed as a tar, returned with the
outcome and unpacked on the driver's side, refusing anything but plain files and folders.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import signal
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from rgym.batch.backend import JobEnd
from rgym.batch.job import Job, JobOutcome, execute_job
from rgym.errors import ConfigError, RgymError

MiB = 1 << 20
STOP_POLL_S = 5.0
"""How long a watcher's call to the stop flag waits before it asks again."""
WAIT_SLICE_S = 0.5
"""`wait` returns to Python this often, so Ctrl-C and the grace deadline are seen promptly."""


class RecordRefused(RgymError):
    """A shipped run record that is too large, not a tar, or holds something other than plain
    files and folders under relative paths."""


# ---------------------------------------------------------------- records shipped as a tar


class _CappedBuffer(io.BytesIO):
    """An in-memory file that refuses to grow past `limit` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, b: Any) -> int:
        if self.tell() + len(b) > self.limit:
            raise RecordRefused(
                f"the run record is over the {self.limit // MiB} MiB limit for shipped records; "
                "raise RayBackend(ship_limit_mb=...) or write records to a shared path"
            )
        return super().write(b)


def pack_record(run_dir: Path, limit_bytes: int) -> bytes:
    """The run folder as an uncompressed tar, members named relative to the folder."""
    buffer = _CappedBuffer(limit_bytes)
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for child in sorted(Path(run_dir).iterdir()):
            tar.add(child, arcname=child.name)
    return buffer.getvalue()


def _check_member(member: tarfile.TarInfo) -> None:
    name = PurePosixPath(member.name)
    if not member.name or name.is_absolute() or ".." in name.parts:
        raise RecordRefused(f"member {member.name!r}: not a relative path inside the run folder")
    if member.issym() or member.islnk():
        raise RecordRefused(f"member {member.name!r}: a link (to {member.linkname!r})")
    if member.issparse() or not (member.isfile() or member.isdir()):
        raise RecordRefused(f"member {member.name!r}: not a plain file or folder")


def unpack_record(data: bytes, dest: Path) -> Path:
    """Unpack a shipped run folder into `dest`, which must not exist yet.

    Every member is checked before anything is written (relative paths without `..`, plain
    files and folders only: no links, devices, fifos or sparse files), then extracted with
    tarfile's `data` filter into a hidden folder beside `dest` that is renamed into place, so a
    half-unpacked record is never mistaken for a run."""
    dest = Path(dest)
    if dest.exists():
        raise RecordRefused(f"{dest} already exists; a shipped record never replaces a run")
    dest.parent.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=f".{dest.name}.incoming-", dir=dest.parent))
    try:
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
                members = tar.getmembers()
                for member in members:
                    _check_member(member)
                tar.extractall(incoming, members=members, filter="data")
        except tarfile.TarError as e:
            raise RecordRefused(f"not a usable tar of a run folder: {e}") from None
        incoming.chmod(0o755)
        incoming.rename(dest)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    return dest


# ---------------------------------------------------------------- on the node


class StopFlag:
    """The driver's request to stop every run (a Ray actor): watchers beside the runs ask it."""

    def __init__(self) -> None:
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def wait(self, timeout: float) -> bool:
        """True once a stop was asked for; False after `timeout` seconds without one."""
        if self._stop.is_set():
            return True
        try:
            await asyncio.wait_for(self._stop.wait(), timeout)
        except TimeoutError:
            return False
        return True


@dataclass
class TaskReport:
    """What a Ray task hands back to the driver."""

    outcome: JobOutcome | None
    record: bytes | None = None
    """The run folder as a tar, when records are shipped."""
    problem: str | None = None
    """Why there is no outcome or no record (the run raised, the record could not be packed)."""
    gpu_ids: list[int] = field(default_factory=list)
    seconds: float | None = None
    """How long `execute_job` took (the rest of the time from submit to end is overhead)."""
    where: str = ""
    """The worker: its pid and node."""


class _StopWatcher:
    """While a run goes on in the main thread, a thread that waits on the stop flag and then
    signals the run with a real SIGINT (which interrupts a blocking call), at most once and only
    while the run's own handler is in place (`execute_job` turns it into an interrupted run)."""

    def __init__(self, flag: Any) -> None:
        self._flag = flag
        self._done = False
        self._lock = threading.Lock()
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._watch, name="rgym-stop-watcher", daemon=True)

    def __enter__(self) -> _StopWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True  # the thread ends after its current poll; it never signals now

    def _watch(self) -> None:
        import ray

        while not self._done:
            try:
                stopped = ray.get(self._flag.wait.remote(STOP_POLL_S))
            except ray.exceptions.RayError:
                return  # the flag is gone (its node died): only a forced stop ends this run now
            if stopped:
                break
        while not self._done:
            with self._lock:
                if self._done:
                    return
                if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # the run's handler
                    signal.pthread_kill(self._main, signal.SIGINT)
                    return
            time.sleep(0.01)  # the run has not installed its handler yet


def _stopped_already(stop_flag: Any) -> bool:
    """Asked from a side thread: while a task's own thread waits in `ray.get`, Ray lends the
    task's CPUs to queued tasks, which would then run beside this one."""
    import ray

    answer = [False]

    def ask() -> None:
        try:
            answer[0] = bool(ray.get(stop_flag.wait.remote(0)))
        except ray.exceptions.RayError:
            pass  # the flag is gone (its node died); the run goes on

    asking = threading.Thread(target=ask, name="rgym-stop-check")
    asking.start()
    asking.join()
    return answer[0]


def rgym_run(job: Job, stop_flag: Any, ship_limit: int | None) -> TaskReport:
    """The Ray task: run `job` with the GPUs Ray assigned, its record in `job.runs_dir` or, when
    `ship_limit` is set, packed from a scratch folder on this node."""
    import ray

    import rgym.runs.runner  # noqa: F401  (imported now, so a stop is not held up by it)

    gpu_ids = [int(g) for g in ray.get_gpu_ids()]
    where = f"pid {os.getpid()} on {ray.util.get_node_ip_address()}"
    if _stopped_already(stop_flag):  # interrupted while it waited for resources
        outcome = JobOutcome(
            run_id=job.run_id,
            cell=job.cell,
            attempt=job.attempt,
            exit_status="interrupted",
            message="stopped before the run started",
        )
        return TaskReport(outcome=outcome, gpu_ids=gpu_ids, seconds=0.0, where=where)
    job = job.model_copy(update={"gpu_ids": gpu_ids})
    scratch = Path(tempfile.mkdtemp(prefix="rgym-ray-")) if ship_limit is not None else None
    if scratch is not None:
        job = job.model_copy(update={"runs_dir": str(scratch)})
    # Ray workers block SIGINT in the main thread; the run (and the sandbox it starts, which
    # inherits the mask) must receive it. Outside the run a stray stop signal is ignored.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    report = TaskReport(outcome=None, gpu_ids=gpu_ids, where=where)
    started = time.monotonic()
    try:
        try:
            with _StopWatcher(stop_flag):
                report.outcome = execute_job(job)
            report.seconds = time.monotonic() - started
        except Exception as e:  # said in words: not every exception survives pickling
            report.problem = f"the run raised {type(e).__name__}: {e}"
        if scratch is not None and (scratch / job.run_id).is_dir():
            try:
                report.record = pack_record(scratch / job.run_id, ship_limit)
            except (RecordRefused, OSError) as e:
                report.problem = f"the record could not be packed on {os.uname().nodename}: {e}"
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, previous)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return report


# ---------------------------------------------------------------- on the driver


@dataclass
class _Running:
    job: Job
    stop_by: float | None = None
    """After an interrupt: when a job still running is force-cancelled."""
    forced: bool = False


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "the Ray backend needs ray: pip install 'rgym[ray]' (or use the local backend)"
        ) from None
    return ray


def _absolute(job: Job) -> Job:
    """The job with the paths it names made absolute: a Ray worker's working folder is not the
    driver's (on another node it is not even the same machine)."""
    config = dict(job.config)
    if config.get("actions"):
        config["actions"] = str(Path(config["actions"]).resolve())
    if config.get("tasks_dirs"):
        config["tasks_dirs"] = [str(Path(d).resolve()) for d in config["tasks_dirs"]]
    return job.model_copy(update={"config": config, "runs_dir": str(Path(job.runs_dir).resolve())})


class RayBackend:
    """Runs jobs as Ray tasks on a cluster (`address`) or on a local Ray instance it starts.

    If Ray is already initialised in this process, that instance is used and left alone."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        ship_records: bool = False,
        *,
        grace_s: float = 30.0,
        ship_limit_mb: int = 256,
        **init_kwargs: Any,
    ) -> None:
        """`grace_s`: how long an interrupted run may take to record itself before it is
        force-cancelled. `ship_limit_mb`: the largest run folder shipped back. `init_kwargs`
        go to `ray.init` (num_cpus, ...)."""
        ray = _import_ray()
        self._ray = ray
        self.ship_records = ship_records
        self.grace_s = grace_s
        self.ship_limit = ship_limit_mb * MiB
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            options: dict[str, Any] = {
                "include_dashboard": False,
                "logging_level": logging.ERROR,
                "log_to_driver": False,
                **init_kwargs,
            }
            try:
                ray.init(address=address or "local", **options)
            except (ConnectionError, ValueError, RuntimeError) as e:
                if address is None:
                    raise ConfigError(f"could not start a local Ray instance: {e}") from None
                raise ConfigError(
                    f"could not join the Ray cluster at {address!r}: {e}. Is `ray start` running "
                    "there, and does this machine hold the cluster's token (RAY_AUTH_MODE=token "
                    "with ~/.ray/auth_token or RAY_AUTH_TOKEN)? See docs/batch-ray.md."
                ) from None
        self._task = ray.remote(max_retries=0, retry_exceptions=False)(rgym_run)
        self._flag_actor = ray.remote(num_cpus=0, max_concurrency=10_000)(StopFlag)
        self._stop_flag: Any = None
        """Made at the first submit; a new one after each interrupt."""
        self._used_flags: list[Any] = []
        """Flags already set by `interrupt`, kept until shutdown for the watchers that ask."""
        self._running: dict[Any, _Running] = {}
        self._closed = False

    # -- slots

    def capacity(self) -> dict[str, int]:
        total = self._ray.cluster_resources()
        return {
            "cpus": int(total.get("CPU", 0)),
            "memory_mb": int(total.get("memory", 0) // MiB),
            "gpus": int(total.get("GPU", 0)),
        }

    def free(self) -> dict[str, int]:
        free = self.capacity()
        for run in self._running.values():
            slots = run.job.slots
            free["cpus"] -= slots.cpus
            free["memory_mb"] -= slots.memory_mb
            free["gpus"] -= slots.gpus
        return {k: max(0, v) for k, v in free.items()}

    # -- jobs

    def submit(self, job: Job) -> None:
        if self._closed:
            raise RuntimeError("RayBackend.submit after shutdown")
        slots = job.slots
        resources: dict[str, Any] = {"num_cpus": slots.cpus, "num_gpus": slots.gpus}
        if slots.memory_mb > 0:
            resources["memory"] = slots.memory_mb * MiB
        ship_limit = self.ship_limit if self.ship_records else None
        if self._stop_flag is None:
            self._stop_flag = self._flag_actor.remote()
        ref = self._task.options(name=f"rgym:{job.run_id}", **resources).remote(
            _absolute(job), self._stop_flag, ship_limit
        )
        job.worker = f"ray task rgym:{job.run_id}"  # the worker's process title while it runs
        self._running[ref] = _Running(job)

    def running(self) -> list[Job]:
        return [run.job for run in self._running.values()]

    def wait(self, timeout: float) -> list[JobEnd]:
        ray = self._ray
        deadline = time.monotonic() + max(0.0, timeout)
        while self._running:
            self._force_overdue()
            refs = list(self._running)
            left = deadline - time.monotonic()
            ready, _ = ray.wait(refs, num_returns=1, timeout=max(0.0, min(left, WAIT_SLICE_S)))
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
                return [self._end(ref, self._running.pop(ref)) for ref in ready]
            if left <= 0:
                break
        return []

    def _end(self, ref: Any, run: _Running) -> JobEnd:
        ray = self._ray
        try:
            report: TaskReport = ray.get(ref)
        except ray.exceptions.RayError as e:
            return JobEnd(run.job, None, died=self._why_died(e, run))
        job = run.job
        job.gpu_ids, job.worker = report.gpu_ids, f"{job.worker}, {report.where}"
        if self.ship_records and report.record is not None:
            try:
                unpack_record(report.record, Path(job.runs_dir) / job.run_id)
            except (RecordRefused, OSError) as e:
                return JobEnd(job, None, died=f"the shipped record was refused: {e}")
        if report.outcome is None or report.problem:
            return JobEnd(job, None, died=report.problem or "the task returned no outcome")
        return JobEnd(job, report.outcome, worker_seconds=report.seconds)

    def _why_died(self, error: Exception, run: _Running) -> str:
        ray = self._ray
        if isinstance(error, ray.exceptions.TaskCancelledError):
            if run.forced:
                return f"force-cancelled: still running {self.grace_s:g} s after the interrupt"
            return "cancelled by Ray before the run recorded an end"
        if isinstance(error, ray.exceptions.RayTaskError):
            cause = error.cause if error.cause is not None else error
            return f"the run raised {type(cause).__name__}: {cause}"
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"{type(error).__name__} from Ray: {first_line}"  # a dead worker, node, ...

    def interrupt(self) -> None:
        if not self._running:
            return
        stop_by = time.monotonic() + self.grace_s
        self._stop_flag.stop.remote()
        self._used_flags.append(self._stop_flag)
        self._stop_flag = None  # jobs submitted later get a new flag: they are not stopped
        for run in self._running.values():
            if run.stop_by is None:
                run.stop_by = stop_by

    def _force_overdue(self) -> None:
        now = time.monotonic()
        for ref, run in self._running.items():
            if run.stop_by is not None and not run.forced and now >= run.stop_by:
                self._ray.cancel(ref, force=True)
                run.forced = True

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        ray = self._ray
        if not ray.is_initialized():
            self._running.clear()
            return  # whoever started Ray has stopped it, and its tasks with it
        for ref, run in self._running.items():
            run.forced = True
            ray.cancel(ref, force=True)
        self._running.clear()
        for flag in [*self._used_flags, self._stop_flag]:
            if flag is not None:
                ray.kill(flag)
        if self._owns_ray:
            ray.shutdown()
