"""What a batch folder says about its cells, and the moves that keep one record per cell.

`runs/<run_id>/` holds a cell's one record: its final attempt. An attempt that died (infra) or
was interrupted moves to `attempts/<run_id>/attempt-<n>/` with a result.json saying so, so the
run can be made again under its own id. The folders are the truth; `state.jsonl` is the log of
what the driver did, for people and the viewer.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rgym.batch.plan import Cell, write_json
from rgym.errors import ConfigError

RUNS = "runs"
ATTEMPTS = "attempts"
STATE = "state.jsonl"
LOCK = ".lock"
RESULT = "result.json"
FINAL_STATUSES = frozenset(
    {"submitted", "auto_submitted", "no_artifact", "invalid_artifact", "agent_error"}
)
"""Exit statuses that end a cell: the run happened, whatever the agent did. Never retried."""
RETRIED_STATUSES = frozenset({"infra_error"})
"""Exit statuses that are the infrastructure's doing: retried, each attempt kept."""
CRASHED = (
    "the batch stopped (crash, SIGKILL or power loss) before this run wrote its result; found "
    "by --resume"
)


@dataclass
class RunSummary:
    """What a record says, for progress and the batch's budgets."""

    exit_status: str | None
    task: str = ""
    test_score: float | None = None
    cost_usd: float = 0.0
    tokens: int = 0
    wall_seconds: float = 0.0
    message: str = ""


def read_result(run_dir: Path) -> dict[str, Any] | None:
    """A run's result.json, or None when it has none (or an unreadable one)."""
    try:
        data = json.loads((Path(run_dir) / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def summarise(result: dict[str, Any]) -> RunSummary:
    totals = result.get("totals") if isinstance(result.get("totals"), dict) else {}
    score = result.get("test_score")
    variant = result.get("variant")
    task = str(result.get("task_id") or "")
    return RunSummary(
        exit_status=result.get("exit_status"),
        task=f"{task}:{variant}" if variant not in (None, "", "default") else task,
        test_score=float(score) if isinstance(score, int | float) else None,
        cost_usd=float(totals.get("cost_usd") or 0.0),
        tokens=int(totals.get("prompt_tokens") or 0) + int(totals.get("completion_tokens") or 0),
        wall_seconds=float(totals.get("wall_seconds") or 0.0),
        message=str(result.get("message") or ""),
    )


class StateLog:
    """state.jsonl: one JSON object a line, flushed as it happens (a killed driver's log reads
    up to its last event)."""

    def __init__(self, path: Path):
        self._file: IO[str] = Path(path).open("a", encoding="utf-8", buffering=1)

    def write(self, type_: str, **fields: Any) -> None:
        line = {"time": round(time.time(), 3), "type": type_, **fields}
        self._file.write(json.dumps(line, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def lock_batch(out: Path) -> int:
    """Hold the batch folder's lock for this process's life (the kernel drops it when the
    driver dies, even by SIGKILL); a second driver on the same folder would retire live runs.

    Raises:
        ConfigError: another driver holds it.
    """
    fd = os.open(Path(out) / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(
            f"{out} is being run by another rgym batch (pid {holder}); wait for it, or stop it"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def attempt_dirs(out: Path, run_id: str) -> list[Path]:
    folder = Path(out) / ATTEMPTS / run_id
    if not folder.is_dir():
        return []
    return sorted(folder.glob("attempt-*"), key=lambda p: int(p.name.partition("-")[2] or 0))


def next_attempt(out: Path, run_id: str) -> int:
    """The attempt number of a cell's next (or current) run folder."""
    return len(attempt_dirs(out, run_id)) + 1


def failure_result(
    cell: Cell, task: Any, status: str, message: str, attempt: int, run_dir: Path | None = None
) -> dict[str, Any]:
    """A result.json for an attempt that wrote none (its worker died, or the batch did).

    Shaped like a run's own, so `rgym report` and the viewer read it as a failed run of its
    cell; the agent and model come from the run's manifest when it got that far."""
    manifest: dict[str, Any] = {}
    if run_dir is not None:
        try:
            manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
    return {
        "schema_version": 1,
        "run_id": cell.run_id,
        "task_id": cell.task_id,
        "variant": cell.variant,
        "agent": manifest.get("agent", cell.agent),
        "model": manifest.get("model", cell.model or cell.label),
        "seed": cell.seed,
        "sandbox": cell.config.get("sandbox", "bwrap"),
        "exit_status": status,
        "ended_by": None,
        "message": message,
        "metric": task.metric.name,
        "direction": str(task.metric.direction),
        "baseline_score": None,
        "reference_score": None,
        "test_score": None,
        "normalised_score": None,
        "totals": {},
        "attempt": attempt,
    }


def retire(
    out: Path, cell: Cell, task: Any, attempt: int, status: str, message: str
) -> tuple[Path, dict[str, Any]]:
    """Move the cell's run folder to `attempts/<run_id>/attempt-<n>/`, with a result.json that
    says how the attempt ended: the run's own when it wrote one, else one saying `status` and
    `message`. A folder that never got made is recorded all the same. Returns where, and the
    result recorded.

    Safe to repeat after a crash: the result is written before the folder moves, and a
    folder that was not moved is found again by the next scan."""
    out = Path(out)
    src = out / RUNS / cell.run_id
    result = read_result(src) if src.is_dir() else None
    if result is None:
        result = failure_result(cell, task, status, message, attempt, src if src.is_dir() else None)
    result["attempt"] = attempt
    dst = out / ATTEMPTS / cell.run_id / f"attempt-{attempt}"
    dst.parent.mkdir(parents=True, exist_ok=True)
    while dst.exists():  # never overwrite an attempt already kept
        attempt += 1
        result["attempt"] = attempt
        dst = dst.with_name(f"attempt-{attempt}")
    if src.is_dir():
        write_json(src / RESULT, result)
        os.replace(src, dst)
    else:
        dst.mkdir()
        write_json(dst / RESULT, result)
    return dst, result


def record_final_failure(
    out: Path, cell: Cell, task: Any, attempt: int, status: str, message: str
) -> dict[str, Any]:
    """The last allowed attempt died without a result: its folder in runs/ (made if the run
    never got that far) gets a result.json saying so, and stays as the cell's record."""
    run_dir = Path(out) / RUNS / cell.run_id
    result = read_result(run_dir)
    if result is None:
        result = failure_result(
            cell, task, status, message, attempt, run_dir if run_dir.is_dir() else None
        )
    result["attempt"] = attempt
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / RESULT, result)
    return result


@dataclass
class Scan:
    """A batch folder read for --resume."""

    finished: dict[str, RunSummary] = field(default_factory=dict)
    """Cells whose record is final, by run id: skipped."""
    todo: list[Cell] = field(default_factory=list)
    """Cells to run, in plan order."""
    recovered: list[tuple[str, int, str]] = field(default_factory=list)
    """(run id, attempt, exit status) of run folders moved to attempts/ by this scan."""
    spent_usd: float = 0.0
    """Dollars over every record, attempts included: what the batch has cost so far."""
    tokens: int = 0


def scan_batch(out: Path, cells: list[Cell], tasks: dict[tuple[str, str], Any]) -> Scan:
    """Sort cells into finished and to-do, retiring what a stopped batch left behind.

    A run folder with a final result is finished. One without result.json was cut off when the
    batch died: it is recorded as interrupted and moved to attempts/. One whose result says
    interrupted or infra_error is moved there too, and its cell runs again."""
    out = Path(out)
    scan = Scan()
    runs = out / RUNS
    present = {p.name for p in runs.iterdir()} if runs.is_dir() else set()
    for cell in cells:
        if cell.run_id not in present:
            scan.todo.append(cell)
            continue
        run_dir = runs / cell.run_id
        result = read_result(run_dir)
        if result is not None and result.get("exit_status") in FINAL_STATUSES:
            scan.finished[cell.run_id] = summarise(result)
            continue
        status = "interrupted" if result is None else str(result.get("exit_status"))
        attempt = next_attempt(out, cell.run_id)
        retire(out, cell, tasks[(cell.task, cell.variant)], attempt, status, CRASHED)
        scan.recovered.append((cell.run_id, attempt, status))
        scan.todo.append(cell)
    for s in scan.finished.values():
        scan.spent_usd += s.cost_usd
        scan.tokens += s.tokens
    attempts = out / ATTEMPTS
    if attempts.is_dir():
        for result_file in attempts.glob(f"*/attempt-*/{RESULT}"):
            result = read_result(result_file.parent)
            if result is not None:
                s = summarise(result)
                scan.spent_usd += s.cost_usd
                scan.tokens += s.tokens
    return scan


def check_writable(out: Path, min_free_mb: int) -> None:
    """A clear error now, not a failed record later: the folder can be made and written, and
    its disk has room.

    Raises:
        ConfigError: naming the folder and what is wrong with it.
    """
    import shutil
    import tempfile

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".rgym-probe-") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise ConfigError(
                f"the disk holding the batch folder {out} is full; free some space or choose "
                "another --out"
            ) from None
        raise ConfigError(
            f"the batch folder {out} is not writable ({e.strerror or e}); choose another --out"
        ) from None
    free_mb = shutil.disk_usage(out).free // (1 << 20)
    if free_mb < min_free_mb:
        raise ConfigError(
            f"the disk holding {out} has {free_mb} MB free; a batch needs at least "
            f"{min_free_mb} MB for its records. Free some space or choose another --out"
        )
