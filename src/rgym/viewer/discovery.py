"""Find the runs and batches under the folders `rgym view` serves, and give each an id.

The server addresses a run only by the id given here, never by a path from a URL, so what a
page can show is exactly what this walk found. The walk follows the rules of
:func:`rgym.metrics.runs.find_run_dirs` (sorted order, hidden folders skipped, each real folder
once, never into a run) with three differences: a run still in progress (no result.json yet)
is found; a batch folder (batch.json) contributes its ``runs/`` and, apart, the earlier
attempts under ``attempts/``, which are never counted; and a symlinked folder is followed only
when it points inside one of the served folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

BATCH_FILE = "batch.json"
RGYM_MARKERS = ("result.json", "events.jsonl")
MLGYM_RESULTS = "results.json"
ATTEMPT_DIR = re.compile(r"^attempt-(\d+)$")
UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
MAX_ID_LEN = 120

RunKind = Literal["rgym", "mlgym"]


@dataclass(frozen=True)
class RunRef:
    """A run folder the viewer may show: its id, where it is, and what holds it."""

    id: str
    path: Path
    kind: RunKind
    root: Path
    batch: str | None = None
    """The id of the batch whose ``runs/`` holds it."""
    attempt_of: str | None = None
    """For an earlier attempt of a batch cell: the id of the run it was retried as."""
    attempt: int | None = None


@dataclass
class BatchRef:
    """A batch folder: its plan (batch.json's cells) and the ids of its counted runs."""

    id: str
    path: Path
    name: str
    created: str | None
    cells: list[dict[str, Any]]
    runs: list[str] = field(default_factory=list)
    problem: str | None = None
    """Why batch.json could not be read, if it could not (its runs are still shown)."""
    planned: dict[str, Any] | None = None
    """state.jsonl's last `planned` line (backend, workers, limits), if any."""
    stopped: dict[str, Any] | None = None
    """Its `stop` line after that (why the driver stopped); None while it drives or before."""


STATE_FILE = "state.jsonl"
STATE_TAIL = 64 << 10


def read_state(path: Path) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The last `planned` and the `stop` after it, from the end of a batch's state.jsonl."""
    try:
        with open(path / STATE_FILE, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - STATE_TAIL))
            lines = f.read().split(b"\n")
    except OSError:
        return None, None
    planned = stopped = None
    for line in lines:
        try:
            entry = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(entry, dict) and entry.get("type") == "planned":
            planned, stopped = entry, None
        elif isinstance(entry, dict) and entry.get("type") == "stop":
            stopped = entry
    return planned, stopped


@dataclass
class Catalog:
    """Everything found under the served folders, in walk order."""

    roots: list[Path]
    runs: dict[str, RunRef] = field(default_factory=dict)
    batches: dict[str, BatchRef] = field(default_factory=dict)
    attempts: dict[str, list[RunRef]] = field(default_factory=dict)
    """Run id -> its earlier attempts (batch folders only), oldest first."""
    warnings: list[str] = field(default_factory=list)

    def counted(self) -> list[RunRef]:
        """The runs a table or a leaderboard counts: every run but the earlier attempts."""
        return [r for r in self.runs.values() if r.attempt_of is None]

    def get(self, run_id: str) -> RunRef | None:
        return self.runs.get(run_id)


def run_kind(filenames: list[str] | set[str]) -> RunKind | None:
    """What a folder holding these files is: an rgym run, an MLGym run, or neither."""
    names = set(filenames)
    if any(m in names for m in RGYM_MARKERS):
        return "rgym"
    if MLGYM_RESULTS in names or any(f.endswith(".traj") for f in names):
        return "mlgym"
    return None


def _within(real: str, roots: list[str]) -> bool:
    return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)


class _Ids:
    """Readable, URL- and file-name-safe ids; a clash gets a suffix from the folder's path."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def make(self, name: str, key: Callable[[], str]) -> str:
        """``key()`` (the folder's real path) is asked for only on a clash."""
        base = UNSAFE_ID_CHARS.sub("_", name).strip("._-")[:MAX_ID_LEN] or "run"
        out = base
        if out in self.used:
            out = f"{base}-{hashlib.sha1(key().encode()).hexdigest()[:8]}"
        n = 2
        while out in self.used:
            out, n = f"{base}-{n}", n + 1
        self.used.add(out)
        return out


def _read_batch(path: Path) -> tuple[dict[str, Any], str | None]:
    try:
        data = json.loads((path / BATCH_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return {}, f"{path / BATCH_FILE}: unreadable ({type(e).__name__}: {e})"
    if not isinstance(data, dict):
        return {}, f"{path / BATCH_FILE}: expected a JSON object"
    return data, None


def scan(roots: list[Path]) -> Catalog:
    """Walk ``roots`` (in the order given) for runs and batches."""
    catalog = Catalog(roots=list(roots))
    real_roots = [os.path.realpath(r) for r in roots]
    ids = _Ids()
    visited: set[str] = set()

    def add_run(path: Path, kind: RunKind, root: Path, **extra: Any) -> RunRef:
        name = extra.pop("name", None) or path.name
        ref = RunRef(ids.make(name, lambda: os.path.realpath(path)), path, kind, root, **extra)
        catalog.runs[ref.id] = ref
        return ref

    def subdirs(path: Path) -> list[Path]:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return []
        out = []
        for e in entries:
            if e.name.startswith(".") or not e.is_dir():
                continue
            if e.is_symlink() and not _within(os.path.realpath(e.path), real_roots):
                catalog.warnings.append(f"not followed: {e.path} links outside the served folders")
                continue
            out.append(Path(e.path))
        return out

    def files_of(path: Path) -> list[str]:
        try:
            return [e.name for e in os.scandir(path) if not e.is_dir()]
        except OSError:
            return []

    def add_batch(path: Path, root: Path) -> None:
        data, problem = _read_batch(path)
        cells = [c for c in data.get("cells", []) if isinstance(c, dict)]
        name = data.get("name") if isinstance(data.get("name"), str) else path.name
        created = data.get("created") if isinstance(data.get("created"), str) else None
        batch = BatchRef(
            ids.make(f"batch-{path.name}", lambda: os.path.realpath(path)),
            path,
            name,
            created,
            cells,
            problem=problem,
        )
        batch.planned, batch.stopped = read_state(path)
        if problem:
            catalog.warnings.append(problem)
        catalog.batches[batch.id] = batch
        by_folder: dict[str, str] = {}
        for run_dir in subdirs(path / "runs"):
            kind = run_kind(files_of(run_dir))
            if kind is None:
                continue
            ref = add_run(run_dir, kind, root, batch=batch.id)
            batch.runs.append(ref.id)
            by_folder[run_dir.name] = ref.id
        for cell_dir in subdirs(path / "attempts"):
            parent = by_folder.get(cell_dir.name)
            tries = []
            for attempt_dir in subdirs(cell_dir):
                m = ATTEMPT_DIR.match(attempt_dir.name)
                kind = run_kind(files_of(attempt_dir))
                if m and kind is not None:
                    tries.append((int(m.group(1)), attempt_dir, kind))
            for n, attempt_dir, kind in sorted(tries):
                ref = add_run(
                    attempt_dir,
                    kind,
                    root,
                    batch=batch.id,
                    attempt=n,
                    attempt_of=parent or cell_dir.name,
                    name=f"{cell_dir.name}.attempt-{n}",
                )
                catalog.attempts.setdefault(parent or cell_dir.name, []).append(ref)

    for root in roots:
        for here, dirnames, filenames in os.walk(root, followlinks=True):
            real = os.path.realpath(here)
            if real in visited or not _within(real, real_roots):
                dirnames[:] = []
                continue
            visited.add(real)
            path = Path(here)
            if BATCH_FILE in filenames:
                dirnames[:] = []
                add_batch(path, root)
                continue
            kind = run_kind(filenames)
            if kind is not None:
                dirnames[:] = []
                add_run(path, kind, root)
                continue
            keep = []
            for d in sorted(dirnames):
                full = os.path.join(here, d)
                if d.startswith("."):
                    continue
                if os.path.islink(full) and not _within(os.path.realpath(full), real_roots):
                    catalog.warnings.append(
                        f"not followed: {full} links outside the served folders"
                    )
                    continue
                keep.append(d)
            dirnames[:] = keep
    return catalog
