"""One row per run for the runs table: what a reader scans before opening a run.

A finished rgym run is summarised from manifest.json and result.json; a run in progress from
its manifest and what its events.jsonl says so far (steps, dev scores, cost); an MLGym run by
the same reader `rgym report` uses. Summaries are cached per folder and rebuilt only when one
of its files changes, so the runs page of a thousand runs stays fast.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rgym.viewer import safe_files
from rgym.viewer.discovery import BatchRef, Catalog, RunRef
from rgym.viewer.transcript import read_events

STALE_SECONDS = 3600.0
"""A run in progress with no event for this long is marked as possibly crashed."""


@dataclass
class RunSummary:
    """A runs-table row. ``status`` is finished, running or queued (a batch cell not started)."""

    id: str | None
    kind: str
    status: str
    task: str | None = None
    variant: str | None = None
    agent: str | None = None
    model: str | None = None
    seed: int | None = None
    exit_status: str | None = None
    ended_by: str | None = None
    message: str = ""
    metric: str | None = None
    direction: str | None = None
    dev_best: float | None = None
    test_score: float | None = None
    normalised: float | None = None
    cost_usd: float | None = None
    tokens: float | None = None
    steps: int | None = None
    wall_seconds: float | None = None
    started: str | None = None
    last_event_time: float | None = None
    isolated: bool | None = None
    batch: str | None = None
    batch_name: str | None = None
    cell: str | None = None
    path: str = ""
    problem: str | None = None
    """Why part of the run could not be read, if so (the row is still shown)."""

    @property
    def method(self) -> str:
        return self.model or self.agent or "unknown"

    @property
    def last_event_age(self) -> float | None:
        """Seconds since a running run's last event."""
        if self.status != "running" or self.last_event_time is None:
            return None
        return max(0.0, time.time() - self.last_event_time)

    @property
    def status_class(self) -> str:
        """The exit status's family, for colour and the status filter."""
        if self.status != "finished":
            return self.status
        return status_class(self.exit_status)

    def badge(self) -> tuple[str, str, str]:
        """(css class, text, tooltip) of the status badge."""
        if self.status == "running":
            if self.stale:
                return "stale", "running?", f"no event for {int(self.last_event_age or 0)} s"
            return "running", "running", "in progress"
        if self.status == "queued":
            return "queued", "queued", "planned by the batch, not started"
        return self.status_class, self.exit_status or "unknown", self.message[:200]

    @property
    def stale(self) -> bool:
        return self.status == "running" and (self.last_event_age or 0) > STALE_SECONDS

    def search_text(self) -> str:
        """What a free-text search matches against (the browser builds the same string)."""
        parts = [
            self.id,
            self.task,
            self.variant,
            self.agent,
            self.method,
            self.exit_status,
            self.status,
            self.batch_name,
            self.cell,
            None if self.seed is None else f"s{self.seed}",
        ]
        return " ".join(p for p in parts if p).lower()

    def sort_values(self) -> dict[str, str]:
        """The numbers the runs table sorts by, compact ("" when missing)."""
        values = {
            "dev": self.dev_best,
            "test": self.test_score,
            "norm": self.normalised,
            "cost": self.cost_usd,
            "steps": self.steps,
            "time": self.wall_seconds,
        }
        return {k: "" if v is None else f"{v:.6g}" for k, v in values.items()}

    def to_json(self) -> dict[str, Any]:
        out = {k: _finite(v) for k, v in asdict(self).items()}
        out["last_event_age"] = self.last_event_age
        out["status_class"] = self.status_class
        return out


STATUS_CLASSES = (
    "submitted",
    "auto_submitted",
    "failed",
    "error",
    "interrupted",
    "running",
    "queued",
    "unknown",
)


def status_class(exit_status: str | None) -> str:
    """submitted, auto_submitted (a budget ended it), failed (nothing scorable), error (agent
    or infrastructure), interrupted, or unknown; MLGym's statuses map onto the same families."""
    s = (exit_status or "").lower()
    if not s:
        return "unknown"
    if s.startswith("submitted"):
        return "submitted"
    if s.startswith(("auto_submitted", "autosubmission", "exit_cost", "exit_context")):
        return "auto_submitted"
    if s.startswith(("no_artifact", "invalid_artifact")):
        return "failed"
    if s.startswith("interrupted"):
        return "interrupted"
    if "error" in s or s.startswith("exit_"):
        return "error"
    return "unknown"


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _json_file(run: Path, name: str) -> dict[str, Any] | None:
    try:
        data = json.loads(safe_files.read_text(run, name))
    except (safe_files.OutsideRun, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass
class Progress:
    """What a run's events say so far (for runs that have no result.json yet)."""

    steps: int = 0
    dev_scores: list[float] | None = None
    test_score: float | None = None
    cost_usd: float = 0.0
    tokens: float = 0.0
    model_calls: int = 0
    first_time: float | None = None
    last_time: float | None = None
    error: str | None = None


def progress_of(run: Path) -> Progress:
    """Fold events.jsonl into counters; a torn last line is skipped, as `iter_events` does."""
    p = Progress(dev_scores=[])
    for ev in read_events(run):
        _fold(p, ev)
    return p


def _fold(p: Progress, ev: dict[str, Any]) -> None:
    t = _num(ev.get("time"))
    if t is not None:
        p.first_time = t if p.first_time is None else p.first_time
        p.last_time = t
    kind = ev.get("type")
    step = _int(ev.get("step"))
    if kind == "action" and step is not None:
        p.steps = max(p.steps, step)
    elif kind == "evaluation":
        score = _num(ev.get("score"))
        if ev.get("split") == "dev" and score is not None and p.dev_scores is not None:
            p.dev_scores.append(score)
        elif ev.get("split") == "test":
            p.test_score = score
    elif kind == "model_call":
        p.model_calls += 1
        p.cost_usd += _num(ev.get("cost_usd")) or 0.0
        p.tokens += (_num(ev.get("prompt_tokens")) or 0) + (_num(ev.get("completion_tokens")) or 0)
    elif kind == "error":
        p.error = str(ev.get("message") or ev.get("kind") or "error")


def best(values: list[float], direction: str | None) -> float | None:
    if not values:
        return None
    return min(values) if direction == "min" else max(values)


def summarise_rgym(ref: RunRef) -> RunSummary:
    """From result.json alone when the run has finished (one file read per run keeps a large
    runs page fast); from the manifest and the events so far while it runs."""
    result = _json_file(ref.path, "result.json")
    manifest = (_json_file(ref.path, "manifest.json") or {}) if result is None else {}
    s = RunSummary(
        id=ref.id,
        kind="rgym",
        status="finished" if result is not None else "running",
        task=_str(manifest.get("task")),
        variant=_str(manifest.get("variant")),
        agent=_str(manifest.get("agent")),
        model=_str(manifest.get("model")),
        seed=_int(manifest.get("seed")),
        started=_str(manifest.get("started")),
        path=str(ref.path),
    )
    if not manifest and result is None:
        s.problem = "manifest.json missing or unreadable"
    if result is not None:
        totals = result.get("totals") if isinstance(result.get("totals"), dict) else {}
        integrity = result.get("integrity") if isinstance(result.get("integrity"), dict) else {}
        s.task = _str(result.get("task_id")) or s.task
        s.variant = _str(result.get("variant")) or s.variant
        s.agent = _str(result.get("agent")) or s.agent
        s.model = _str(result.get("model")) or s.model
        s.seed = _int(result.get("seed")) if _int(result.get("seed")) is not None else s.seed
        s.exit_status = _str(result.get("exit_status"))
        s.ended_by = _str(result.get("ended_by"))
        s.message = result.get("message") if isinstance(result.get("message"), str) else ""
        s.metric, s.direction = _str(result.get("metric")), _str(result.get("direction"))
        s.dev_best = _num(result.get("best_dev_score"))
        s.test_score = _num(result.get("test_score"))
        s.normalised = _num(result.get("normalised_score"))
        s.cost_usd = _num(totals.get("cost_usd"))
        pt, ct = _num(totals.get("prompt_tokens")), _num(totals.get("completion_tokens"))
        s.tokens = None if pt is None and ct is None else (pt or 0) + (ct or 0)
        steps = _num(totals.get("steps"))
        s.steps = int(steps) if steps is not None else None
        s.wall_seconds = _num(totals.get("wall_seconds"))
        isolated = integrity.get("isolated")
        s.isolated = isolated if isinstance(isolated, bool) else result.get("sandbox") != "local"
        return s
    p = progress_of(ref.path)
    s.steps, s.cost_usd, s.tokens = p.steps, p.cost_usd, p.tokens
    s.dev_best = best(p.dev_scores or [], None)
    s.test_score = p.test_score
    s.isolated = manifest.get("sandbox") != "local" if manifest else None
    if p.first_time is not None and p.last_time is not None:
        s.wall_seconds = p.last_time - p.first_time
        s.last_event_time = p.last_time
    s.message = p.error or ""
    return s


def summarise_mlgym(ref: RunRef) -> RunSummary:
    """Through `rgym report`'s reader; a task it has no metric for is still listed."""
    from rgym.metrics.mlgym import parse_mlgym_run_name
    from rgym.metrics.runs import UnknownMLGymTask, read_mlgym_run

    s = RunSummary(id=ref.id, kind="mlgym", status="finished", path=str(ref.path))
    try:
        r = read_mlgym_run(ref.path)
    except UnknownMLGymTask as e:
        parsed = parse_mlgym_run_name(ref.path.name)
        s.task, s.model = e.task_id, parsed.model if parsed else None
        s.problem = f"no priority metric known for MLGym task {e.task_id!r}: no scores shown"
        return s
    except (ValueError, OSError) as e:
        parsed = parse_mlgym_run_name(ref.path.name)
        if parsed:
            s.task, s.model = parsed.task_id, parsed.model
        s.problem = str(e)
        return s
    s.task, s.model, s.agent, s.seed = r.task_id, r.method, r.agent, r.seed
    s.exit_status, s.metric, s.direction = r.exit_status, r.metric, r.direction
    s.dev_best, s.test_score = r.best, r.last
    s.cost_usd, s.steps, s.wall_seconds = r.cost_usd, r.steps, r.wall_seconds
    if r.prompt_tokens is not None or r.completion_tokens is not None:
        s.tokens = (r.prompt_tokens or 0) + (r.completion_tokens or 0)
    return s


def _signature(ref: RunRef, finished: bool) -> tuple:
    """Changes whenever a file the summary reads changes. A finished rgym run is read from
    result.json alone (written last, by rename), so its stat is enough."""
    sig = []
    names = ("result.json",) if finished else ("manifest.json", "result.json", "events.jsonl")
    if ref.kind == "mlgym":
        try:
            names = tuple(sorted(e.name for e in os.scandir(ref.path) if e.is_file()))
        except OSError:
            names = ()
    for name in names:
        try:
            st = os.stat(ref.path / name, follow_symlinks=False)
            sig.append((name, st.st_mtime_ns, st.st_size))
        except OSError:
            sig.append((name, None))
    return tuple(sig)


class SummaryCache:
    """Summaries by folder, rebuilt when the folder's files change."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple, RunSummary]] = {}

    def get(self, ref: RunRef) -> RunSummary:
        hit = self._cache.get(ref.path)
        if hit is not None and hit[1].id == ref.id:
            if hit[0] == _signature(ref, hit[1].status == "finished"):
                return hit[1]
        before = _signature(ref, False)  # taken first: a write while reading shows next time
        summary = summarise_rgym(ref) if ref.kind == "rgym" else summarise_mlgym(ref)
        sig = _signature(ref, True) if summary.status == "finished" else before
        self._cache[ref.path] = (sig, summary)
        return summary

    def rows(self, catalog: Catalog) -> list[RunSummary]:
        """Every counted run, plus the queued cells of each batch, in walk order."""
        out: list[RunSummary] = []
        for ref in catalog.counted():
            row = self.get(ref)
            if ref.batch is not None:
                batch = catalog.batches[ref.batch]
                row.batch, row.batch_name = batch.id, batch.name
                row.cell = _cell_of(batch, ref.path.name)
            out.append(row)
        for batch in catalog.batches.values():
            out += queued_cells(batch, catalog)
        return out


def _cell_of(batch: BatchRef, run_folder: str) -> str | None:
    for cell in batch.cells:
        if cell.get("run_id") == run_folder:
            return _str(cell.get("cell"))
    return None


def queued_cells(batch: BatchRef, catalog: Catalog) -> list[RunSummary]:
    """Cells of the batch's plan with no run folder yet."""
    started = {catalog.runs[i].path.name for i in batch.runs}
    out = []
    for cell in batch.cells:
        run_id = cell.get("run_id")
        if not isinstance(run_id, str) or run_id in started:
            continue
        out.append(
            RunSummary(
                id=None,
                kind="rgym",
                status="queued",
                task=_str(cell.get("task")),
                variant=_str(cell.get("variant")),
                agent=_str(cell.get("agent")),
                model=_str(cell.get("model")) or _str(cell.get("label")),
                seed=_int(cell.get("seed")),
                batch=batch.id,
                batch_name=batch.name,
                cell=_str(cell.get("cell")) or run_id,
                path=str(batch.path / "runs" / run_id),
            )
        )
    return out
