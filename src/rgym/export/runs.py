"""Which runs an export takes: found under the paths given (rgym's and MLGym's, as `rgym report`
finds them), described by one flat metadata record, and picked by exit status and score.

Only what picking needs is read here (result.json; for MLGym, the .traj and results.json);
the events are read only for the runs picked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rgym.export.episode import UnreadableRun, load_json, number

Source = Literal["rgym", "mlgym"]


@dataclass
class FoundRun:
    source: Source
    path: Path
    meta: dict[str, Any]
    """The row metadata (see docs/export.md), without the fields the export adds."""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    """What was read: an rgym run's result.json, an MLGym run's .traj."""

    @property
    def exit_status(self) -> str | None:
        return self.meta.get("exit_status")

    @property
    def normalised_score(self) -> float | None:
        return self.meta.get("normalised_score")


def status_matches(status: str | None, wanted: list[str]) -> bool:
    """Whether `status` is one of `wanted`; `auto_submitted` also matches every
    `auto_submitted:<budget>`."""
    if not wanted:
        return True
    if status is None:
        return False
    return any(status == w or status.startswith(f"{w}:") for w in wanted)


def why_not(run: FoundRun, statuses: list[str], min_score: float | None) -> str | None:
    """Why a run is left out by the filters (None: it is taken)."""
    if not status_matches(run.exit_status, statuses):
        return "status"
    if min_score is not None:
        score = run.normalised_score
        if score is None or score < min_score:
            return "score"
    return None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def describe_rgym(path: Path) -> FoundRun:
    """An rgym run from its result.json.

    Raises:
        UnreadableRun: result.json is missing or malformed.
    """
    r = load_json(path / "result.json")
    seed = r.get("seed")
    integrity = r.get("integrity")
    meta = {
        "source": "rgym",
        "run_id": str(r.get("run_id") or path.name),
        "task": _string(r.get("task_id")),
        "variant": _string(r.get("variant")) or "default",
        "agent": _string(r.get("agent")),
        "model": _string(r.get("model")),
        "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        "exit_status": _string(r.get("exit_status")),
        "ended_by": _string(r.get("ended_by")),
        "metric": _string(r.get("metric")),
        "direction": _string(r.get("direction")),
        "test_score": number(r.get("test_score")),
        "normalised_score": number(r.get("normalised_score")),
        "baseline_score": number(r.get("baseline_score")),
        "reference_score": number(r.get("reference_score")),
        "dev_scores": [v for v in map(number, r.get("dev_scores") or []) if v is not None],
        "integrity": integrity if isinstance(integrity, dict) else None,
    }
    return FoundRun("rgym", path, meta, raw=r)


def describe_mlgym(path: Path) -> FoundRun:
    """An MLGym run from its .traj (and results.json, where there is one).

    Raises:
        UnreadableRun: no .traj, or a file that is not readable JSON.
    """
    from rgym.errors import ConfigError
    from rgym.metrics.mlgym import PRIORITY_METRICS, parse_mlgym_run_name
    from rgym.runs.mlgym_traj import EXTRA_PRIORITY_METRICS, find_traj

    try:
        traj_file = find_traj(path)
    except ConfigError as e:
        raise UnreadableRun(str(e)) from None
    traj = load_json(traj_file)
    if not isinstance(traj.get("history"), list):
        raise UnreadableRun(f"{traj_file}: no 'history' list (the messages MLGym sent)")
    results = load_json(path / "results.json") if (path / "results.json").exists() else {}
    info = traj.get("info") if isinstance(traj.get("info"), dict) else {}
    parsed = parse_mlgym_run_name(path.name)
    task = parsed.task_id if parsed else traj_file.stem
    metric, direction = (PRIORITY_METRICS | EXTRA_PRIORITY_METRICS).get(task, (None, None))
    scores = info.get("score") if isinstance(info.get("score"), list) else results.get("agent")
    values = [
        number(s.get(metric)) if isinstance(s, dict) and metric else None
        for s in (scores if isinstance(scores, list) else [])
    ]
    baseline = results.get("baseline") if isinstance(results.get("baseline"), dict) else {}
    status = info.get("exit_status")
    meta = {
        "source": "mlgym",
        "run_id": path.name,
        "task": task,
        "variant": None,
        "agent": parsed.agent_config if parsed else None,
        "model": parsed.model if parsed else None,
        "seed": parsed.run_index if parsed else None,
        "exit_status": str(status) if status is not None else None,
        "ended_by": None,
        "metric": metric,
        "direction": direction,
        "test_score": values[-1] if values else None,
        "normalised_score": None,
        "baseline_score": number(baseline.get(metric)) if metric else None,
        "reference_score": None,
        "dev_scores": [v for v in values[:-1] if v is not None],
        "integrity": None,
    }
    return FoundRun("mlgym", path, meta, raw=traj)


def describe(source: Source, path: Path) -> FoundRun:
    return describe_rgym(path) if source == "rgym" else describe_mlgym(path)


def find_runs(roots: list[Path]) -> list[tuple[Source, Path]]:
    """Run folders under `roots`, in sorted order (a batch's dead attempts are skipped)."""
    from rgym.metrics.runs import find_run_dirs

    return list(find_run_dirs(roots))
