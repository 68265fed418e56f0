"""Find and read run directories (rgym's and MLGym's, mixed) into one flat record type.

Everything downstream works on :class:`RunRecord`, so the two on-disk formats meet only here.
Bad input never crashes a report: an unreadable run is skipped and a warning names its file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from rgym.errors import RgymError
from rgym.metrics.mlgym import PRIORITY_METRICS, Direction, parse_mlgym_run_name
from rgym.runs.mlgym_traj import EXTRA_PRIORITY_METRICS, MLGYM_TO_RGYM, mlgym_id

RGYM_RESULT = "result.json"
MLGYM_RESULTS = "results.json"
BASELINE_METHOD = "baseline"


class NoRunsFound(RgymError):
    """No usable run was found under the paths given to a report."""

    def __init__(self, paths: Iterable[Path], warnings: list[str] | None = None) -> None:
        where = ", ".join(str(p) for p in paths) or "(no paths)"
        msg = (
            f"No runs found under {where}. A run is a directory holding {RGYM_RESULT} (rgym) or "
            f"{MLGYM_RESULTS} / <task>.traj (MLGym); point `rgym report` at the folder above them."
        )
        if warnings:
            msg += f" {len(warnings)} candidate(s) were skipped: " + "; ".join(warnings[:5])
        super().__init__(msg)
        self.warnings = warnings or []


class RunsPathNotFound(RgymError):
    """A path given to a report does not exist."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"Runs path {str(path)!r} does not exist; pass an existing directory.")
        self.path = path


@dataclass(frozen=True)
class RunRecord:
    """One run, reduced to what leaderboards need.

    ``best`` and ``last`` are MLGym's two per-run views: the best priority-metric value over all
    the run's validate/submit results, and the value of its final result. ``None`` means the run
    has no such value (it failed, or never reported the metric).
    """

    source: Literal["rgym", "mlgym"]
    path: Path
    run_id: str
    task_id: str
    method: str
    metric: str
    direction: Direction
    best: float | None
    last: float | None
    baseline: float | None = None
    reference: float | None = None
    agent: str | None = None
    seed: int | None = None
    exit_status: str | None = None
    prompt_tokens: float | None = None
    completion_tokens: float | None = None
    cost_usd: float | None = None
    wall_seconds: float | None = None
    model_calls: float | None = None
    steps: int | None = None
    isolated: bool = True
    """False for rgym runs made with `--sandbox local`: their scores cannot be trusted."""
    original_task_id: str | None = None
    """The task id the run recorded, when the report joined it under another (see
    :func:`join_tasks`); None when ``task_id`` is the recorded one."""


@dataclass
class LoadedRuns:
    """Runs in sorted directory order, plus warnings about whatever was skipped and notes on
    the tasks joined across rgym and MLGym ids."""

    records: list[RunRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def number(value: Any) -> float | None:
    """A finite float from a JSON value, else ``None`` (bools, strings and NaN are not scores)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def metric_value(entry: Any, metric: str) -> float | None:
    """The metric from one results dict; ``None`` when the dict lacks it (MLGym allows that)."""
    return number(entry.get(metric)) if isinstance(entry, dict) else None


def find_run_dirs(roots: Iterable[Path]) -> Iterator[tuple[Literal["rgym", "mlgym"], Path]]:
    """Yield run directories under ``roots`` in sorted directory order, roots in given order.

    Sorted order matters: MLGym takes a task's baseline from the first run, in that order, that
    has one. The walk does not descend into a run (its workspace may hold anything) nor into
    hidden folders, nor into the ``attempts/`` folder beside a batch's ``batch.json`` (so a
    batch counts each cell once). Symlinked folders are followed (a folder of links to runs is
    a common way to pick runs for a report), each real folder once, so link cycles end. A root
    may itself be a run. Each directory is yielded once.
    """
    seen: set[Path] = set()
    visited: set[str] = set()
    for root in roots:
        for here, dirnames, filenames in os.walk(root, followlinks=True):
            real = os.path.realpath(here)
            if real in visited:
                dirnames[:] = []
                continue
            visited.add(real)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            if "batch.json" in filenames:  # `rgym batch`: one record per cell, in runs/;
                dirnames[:] = [d for d in dirnames if d != "attempts"]  # not its dead attempts
            kind: Literal["rgym", "mlgym"] | None = None
            if RGYM_RESULT in filenames:
                kind = "rgym"
            elif MLGYM_RESULTS in filenames or any(f.endswith(".traj") for f in filenames):
                kind = "mlgym"
            if kind is None:
                continue
            dirnames[:] = []
            path = Path(here)
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                yield kind, path


def _load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def read_rgym_run(run_dir: Path) -> RunRecord:
    """Read an rgym run's ``result.json``.

    rgym scores the held-out test split once, at the end, so both MLGym views (best attempt and
    last submission) are that run's ``test_score``. The ``dev_scores`` come from a different
    split and are deliberately never mixed in: taking the best of dev and test values would
    compare numbers that do not measure the same thing.

    Raises:
        ValueError: the file is not valid JSON or lacks ``task_id`` or a max/min ``direction``.
    """
    file = run_dir / RGYM_RESULT
    try:
        data = _load_json(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{file}: malformed JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{file}: expected a JSON object")
    task_id, direction = data.get("task_id"), data.get("direction")
    if not isinstance(task_id, str) or not task_id:
        raise ValueError(f"{file}: missing 'task_id'")
    if direction not in ("max", "min"):
        raise ValueError(f"{file}: 'direction' must be 'max' or 'min', got {direction!r}")
    variant = data.get("variant")
    if isinstance(variant, str) and variant not in ("", "default"):
        task_id = f"{task_id}:{variant}"
    agent = data.get("agent") if isinstance(data.get("agent"), str) else None
    model = data.get("model") if isinstance(data.get("model"), str) else None
    totals = data.get("totals") if isinstance(data.get("totals"), dict) else {}
    score = number(data.get("test_score"))
    seed = data.get("seed")
    integrity = data.get("integrity") if isinstance(data.get("integrity"), dict) else {}
    isolated = integrity.get("isolated")
    if not isinstance(isolated, bool):  # runs from before the integrity block
        isolated = data.get("sandbox") != "local"
    steps = number(totals.get("steps"))
    return RunRecord(
        source="rgym",
        path=run_dir,
        run_id=str(data.get("run_id") or run_dir.name),
        task_id=task_id,
        method=model or agent or "unknown",
        metric=str(data.get("metric") or "score"),
        direction=direction,
        best=score,
        last=score,
        baseline=number(data.get("baseline_score")),
        reference=number(data.get("reference_score")),
        agent=agent,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        exit_status=str(data["exit_status"]) if data.get("exit_status") is not None else None,
        prompt_tokens=number(totals.get("prompt_tokens")),
        completion_tokens=number(totals.get("completion_tokens")),
        cost_usd=number(totals.get("cost_usd")),
        wall_seconds=number(totals.get("wall_seconds")),
        model_calls=number(totals.get("model_calls")),
        steps=int(steps) if steps is not None else None,
        isolated=isolated,
    )


class UnknownMLGymTask(ValueError):
    """An MLGym run of a task whose priority metric rgym does not know."""

    def __init__(self, task_id: str) -> None:
        super().__init__(task_id)
        self.task_id = task_id


def _best(values: list[float], direction: Direction) -> float | None:
    if not values:
        return None
    return max(values) if direction == "max" else min(values)


def read_mlgym_run(run_dir: Path) -> RunRecord:
    """Read an MLGym run folder: ``results.json`` for scores, ``<task>.traj`` for costs.

    Per MLGym: best = the best priority-metric value over the ``agent`` list (entries lacking
    the metric are skipped); last = the metric of the list's final entry, ``None`` if that entry
    lacks it. Wall-clock is the sum of the trajectory's ``execution_time`` values, when present.

    Raises:
        UnknownMLGymTask: the task id is not in :data:`PRIORITY_METRICS`.
        ValueError: the name does not parse, or a JSON file is malformed.
    """
    parsed = parse_mlgym_run_name(run_dir.name) or parse_mlgym_run_name(run_dir.resolve().name)
    if parsed is None:
        raise ValueError(f"{run_dir}: folder name is not an MLGym run name (<model>__<task>__...)")
    metrics = PRIORITY_METRICS | EXTRA_PRIORITY_METRICS
    if parsed.task_id not in metrics:
        raise UnknownMLGymTask(parsed.task_id)
    metric, direction = metrics[parsed.task_id]

    results: Any = {}
    results_file = run_dir / MLGYM_RESULTS
    if results_file.exists():
        try:
            results = _load_json(results_file)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{results_file}: malformed JSON ({exc})") from exc
        if not isinstance(results, dict):
            raise ValueError(f"{results_file}: expected a JSON object")
    attempts = results.get("agent") if isinstance(results.get("agent"), list) else []
    values = [v for v in (metric_value(a, metric) for a in attempts) if v is not None]
    last = metric_value(attempts[-1], metric) if attempts else None

    traj_file = run_dir / f"{parsed.task_id}.traj"
    if not traj_file.exists():
        trajs = sorted(run_dir.glob("*.traj"))
        traj_file = trajs[0] if trajs else traj_file
    info: dict[str, Any] = {}
    steps: list[Any] = []
    if traj_file.exists():
        try:
            traj = _load_json(traj_file)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{traj_file}: malformed JSON ({exc})") from exc
        if isinstance(traj, dict):
            info = traj.get("info") if isinstance(traj.get("info"), dict) else {}
            steps = traj.get("trajectory") if isinstance(traj.get("trajectory"), list) else []
    stats = info.get("model_stats") if isinstance(info.get("model_stats"), dict) else {}
    times = [number(s.get("execution_time")) for s in steps if isinstance(s, dict)]
    times = [t for t in times if t is not None]
    exit_status = info.get("exit_status")
    return RunRecord(
        source="mlgym",
        path=run_dir,
        run_id=run_dir.name,
        task_id=parsed.task_id,
        method=parsed.model,
        metric=metric,
        direction=direction,
        best=_best(values, direction),
        last=last,
        baseline=metric_value(results.get("baseline"), metric),
        reference=None,
        agent=parsed.agent_config,
        seed=parsed.run_index,
        exit_status=str(exit_status) if exit_status is not None else None,
        prompt_tokens=number(stats.get("tokens_sent")),
        completion_tokens=number(stats.get("tokens_received")),
        cost_usd=number(stats.get("total_cost")),
        wall_seconds=sum(times) if times else None,
        model_calls=number(stats.get("api_calls")),
        steps=len(steps) if traj_file.exists() else None,
    )


def load_runs(paths: Iterable[Path], *, include_unisolated: bool = False) -> LoadedRuns:
    """Read every run under ``paths``, skipping (with a warning) what cannot be used.

    Raises:
        RunsPathNotFound: a path does not exist.
        NoRunsFound: nothing usable was found.
    """
    roots = [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            raise RunsPathNotFound(root)
    out = LoadedRuns()
    unisolated = 0
    unknown: dict[str, list[Path]] = {}
    for kind, run_dir in find_run_dirs(roots):
        try:
            record = read_rgym_run(run_dir) if kind == "rgym" else read_mlgym_run(run_dir)
        except UnknownMLGymTask as exc:
            unknown.setdefault(exc.task_id, []).append(run_dir)
            continue
        except ValueError as exc:
            out.warnings.append(f"skipped run {run_dir}: {exc}")
            continue
        if record.method == BASELINE_METHOD:
            out.warnings.append(
                f"{run_dir}: method named {BASELINE_METHOD!r} clashes with the task baseline; "
                f"reported as '{BASELINE_METHOD}-run'"
            )
            record = replace(record, method=f"{BASELINE_METHOD}-run")
        if not record.isolated and not include_unisolated:
            unisolated += 1
            continue
        out.records.append(record)
    for task_id, dirs in unknown.items():
        out.warnings.append(
            f"skipped {len(dirs)} MLGym run(s) of unknown task {task_id!r} (no priority metric "
            f"known for it), e.g. {dirs[0]}"
        )
    if unisolated:
        out.warnings.append(
            f"left out {unisolated} run(s) made without isolation (--sandbox local): their "
            "scores cannot be trusted; pass --include-unisolated to report them"
        )
    if not out.records:
        raise NoRunsFound(roots, out.warnings)
    out.records, out.notes = join_tasks(out.records)
    return out


def join_tasks(records: list[RunRecord]) -> tuple[list[RunRecord], list[str]]:
    """Report runs of one task under one id, whether they name it as MLGym does
    (``battleOfSexes``), as rgym's built-in task (``battle-of-sexes``) or as a task imported
    from MLGym (``mlgym/battleOfSexes``).

    A task is joined only when its runs name it in more than one way; it is then reported
    under rgym's built-in id when runs of that task are present, else under MLGym's id. Ids
    whose runs score another metric or direction (rgym's sat-heuristic counts decisions,
    MLGym's 3SATTime times seconds) stay apart, with a note. Variants other than the default
    (``blotto:tiny``) are never joined. Returns the records (joined ones relabelled, the
    recorded id kept in ``original_task_id``) and one note per join or refusal.
    """
    groups: dict[str, dict[str, RunRecord]] = {}
    for r in records:
        key = mlgym_id(r.task_id) if ":" not in r.task_id else None
        if key is not None:
            groups.setdefault(key, {}).setdefault(r.task_id, r)
    rename: dict[str, str] = {}
    notes: list[str] = []
    for key, firsts in sorted(groups.items()):
        if len(firsts) < 2:
            continue
        builtin = MLGYM_TO_RGYM.get(key)
        label = builtin if builtin in firsts else key if key in firsts else sorted(firsts)[0]
        want = (firsts[label].metric.lower(), firsts[label].direction)
        joined = [label]
        for task_id, first in sorted(firsts.items()):
            if task_id == label:
                continue
            if (first.metric.lower(), first.direction) == want:
                rename[task_id] = label
                joined.append(task_id)
            else:
                notes.append(
                    f"not joined: {task_id} ({first.metric}, {first.direction}) and {label} "
                    f"({firsts[label].metric}, {firsts[label].direction}) score different metrics"
                )
        if len(joined) > 1:
            notes.append(
                f"joined tasks {', '.join(joined)} as {label!r} ({firsts[label].metric}, "
                f"{firsts[label].direction})"
            )
    out = [
        replace(r, task_id=rename[r.task_id], original_task_id=r.task_id)
        if r.task_id in rename
        else r
        for r in records
    ]
    return out, notes
