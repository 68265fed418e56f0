"""Everything the run page shows about one run, read from its folder (rgym or MLGym).

The result and integrity blocks are result.json's fields in a fixed order; the charts are
plotly figures (plain dicts) drawn from the transcript's series; MLGym runs get the same page
from their .traj (steps, recorded scores) and results.json.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgym.viewer import safe_files
from rgym.viewer.artifacts import Artifact, artifact_of
from rgym.viewer.discovery import RunRef
from rgym.viewer.leaderboard import clean, plot_text
from rgym.viewer.summaries import RunSummary
from rgym.viewer.transcript import (
    Transcript,
    fmt_money,
    fmt_num,
    fmt_seconds,
    mlgym_transcript,
    num,
    rgym_transcript,
)

BUDGET_KEYS = {
    "max_steps": "steps",
    "max_validations": "validations",
    "max_wall_seconds": "wall seconds",
    "max_tokens": "tokens",
    "max_cost_usd": "cost (USD)",
}


@dataclass
class Row:
    """A labelled value; ``level`` (ok, warn, error) makes it stand out."""

    label: str
    value: str
    level: str | None = None


@dataclass
class RunView:
    ref: RunRef
    summary: RunSummary
    transcript: Transcript
    manifest: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    result_rows: list[Row] = field(default_factory=list)
    integrity_rows: list[Row] = field(default_factory=list)
    budget_rows: list[Row] = field(default_factory=list)
    artifact: Artifact | None = None
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    """The run's own files, for raw links (manifest.json, events.jsonl, ...)."""
    notes: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.summary.status == "running"


def _json_file(run: Path, name: str) -> dict[str, Any] | None:
    try:
        data = json.loads(safe_files.read_text(run, name))
    except (safe_files.OutsideRun, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return fmt_num(value, 6)
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)


def result_rows(result: dict[str, Any]) -> list[Row]:
    """result.json's fields, in reading order, errors and budget endings marked."""
    from rgym.viewer.summaries import status_class

    status = str(result.get("exit_status") or "")
    cls = status_class(status)
    totals = result.get("totals") if isinstance(result.get("totals"), dict) else {}
    metric = f"{result.get('metric') or 'score'} ({result.get('direction') or '?'})"
    dev = result.get("dev_scores") if isinstance(result.get("dev_scores"), list) else []
    rows = [
        Row(
            "exit status",
            status or "—",
            {"submitted": "ok", "auto_submitted": "warn"}.get(cls, "error"),
        ),
        Row("ended by", _text(result.get("ended_by"))),
    ]
    if result.get("message"):
        rows.append(Row("message", str(result["message"]), "error" if cls != "submitted" else None))
    rows += [
        Row(f"test {metric}", _text(result.get("test_score"))),
        Row(
            "normalised score",
            f"{_text(result.get('normalised_score'))}  (0 = baseline, 1 = reference)",
        ),
        Row("best dev score", _text(result.get("best_dev_score"))),
        Row("dev scores", ", ".join(fmt_num(s, 6) for s in dev) or "—"),
        Row(
            "baseline / reference",
            f"{_text(result.get('baseline_score'))} / "
            f"{_text(result.get('reference_score'))}"
            + (f"  ({result['scores_source']})" if result.get("scores_source") else ""),
        ),
        Row("spent", spent(totals)),
    ]
    if isinstance(result.get("test_metrics"), dict) and result["test_metrics"]:
        rows.append(
            Row(
                "test metrics",
                ", ".join(f"{k} {fmt_num(v, 6)}" for k, v in result["test_metrics"].items()),
            )
        )
    return rows


def spent(totals: dict[str, Any]) -> str:
    """result.json's totals on one line, as `rgym run` prints them."""
    tokens = (num(totals.get("prompt_tokens")) or 0) + (num(totals.get("completion_tokens")) or 0)
    return (
        f"{_text(totals.get('steps'))} steps · {_text(totals.get('validations'))} validations · "
        f"{_text(totals.get('model_calls'))} model calls · {fmt_num(tokens)} tokens · "
        f"{fmt_money(totals.get('cost_usd'))} · {fmt_seconds(totals.get('wall_seconds'))}"
    )


def integrity_rows(integrity: dict[str, Any], sandbox: Any = None) -> list[Row]:
    """The integrity block, flattened one level; a run without isolation is marked loudly."""
    rows = []
    for key, value in integrity.items():
        if isinstance(value, dict):
            rows += [Row(f"{key}.{k}", _text(v)) for k, v in value.items()]
            continue
        level = None
        if key == "isolated":
            level = "ok" if value is True else "error"
            value = "yes" if value is True else "NO: not a trustworthy score"
        rows.append(Row(key, _text(value), level))
    if not integrity and sandbox == "local":
        rows.append(Row("isolated", "NO: not a trustworthy score", "error"))
    return rows


def budget_rows(manifest: dict[str, Any]) -> list[Row]:
    budget = manifest.get("budget") if isinstance(manifest.get("budget"), dict) else {}
    return [
        Row(label, _text(budget.get(key)) if budget.get(key) is not None else "task default")
        for key, label in BUDGET_KEYS.items()
    ]


def score_figure(
    t: Transcript, result: dict[str, Any] | None, metric: str | None, always: bool = False
) -> dict | None:
    """Dev (validate) scores over steps, the test score, and baseline/reference lines (None
    when there is no score yet, unless ``always``: a live run's chart fills in as it goes)."""
    s = t.series
    if not s.dev and not s.test and not always:
        return None
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "validate (dev)",
            "x": [p[0] for p in s.dev],
            "y": [p[1] for p in s.dev],
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "test (submitted)",
            "marker": {"size": 12, "symbol": "star"},
            "x": [p[0] for p in s.test],
            "y": [p[1] for p in s.test],
        },
    ]
    shapes, annotations = [], []
    for key, label, color in (
        ("baseline_score", "baseline", "#888"),
        ("reference_score", "reference", "#2a2"),
    ):
        y = num((result or {}).get(key))
        if y is None:
            continue
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": y,
                "y1": y,
                "line": {"dash": "dot", "color": color},
            }
        )
        annotations.append(
            {
                "xref": "paper",
                "x": 1,
                "y": y,
                "text": label,
                "showarrow": False,
                "xanchor": "right",
                "yanchor": "bottom",
                "font": {"color": color},
            }
        )
    layout = {
        "title": {"text": "Scores over steps"},
        "xaxis": {"title": {"text": "step"}, "rangemode": "tozero"},
        "yaxis": {"title": {"text": plot_text(metric or "score")}},
        "shapes": shapes,
        "annotations": annotations,
        "margin": {"t": 40, "r": 10, "b": 40},
        "legend": {"orientation": "h", "y": -0.25},
        "height": 300,
    }
    return clean({"data": data, "layout": layout})


def budget_figure(t: Transcript, manifest: dict[str, Any], always: bool = False) -> dict | None:
    """Steps and validations used over wall-clock time, with cost (or tokens) on the right."""
    s = t.series
    if not s.t and not always:
        return None
    third, label = (s.cost, "cost (USD)") if any(s.cost) else (s.tokens, "tokens")
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"shape": "hv"},
            "name": "steps",
            "x": s.t,
            "y": s.steps,
        },
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"shape": "hv"},
            "name": "validations",
            "x": s.t,
            "y": s.validations,
        },
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"shape": "hv", "dash": "dot"},
            "name": label,
            "x": s.t,
            "y": third,
            "yaxis": "y2",
            "visible": any(third) or "legendonly",
        },
    ]
    budget = manifest.get("budget") if isinstance(manifest.get("budget"), dict) else {}
    shapes = []
    for key, yref in (
        ("max_steps", "y"),
        ("max_validations", "y"),
        ("max_cost_usd" if label.startswith("cost") else "max_tokens", "y2"),
    ):
        limit = num(budget.get(key))
        if limit is not None:
            shapes.append(
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "yref": yref,
                    "y0": limit,
                    "y1": limit,
                    "line": {"dash": "dash", "color": "#c33"},
                }
            )
    layout = {
        "title": {"text": "Budget used over time"},
        "xaxis": {"title": {"text": "seconds since start"}, "rangemode": "tozero"},
        "yaxis": {"title": {"text": "count"}, "rangemode": "tozero"},
        "yaxis2": {
            "title": {"text": label},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
        },
        "shapes": shapes,
        "meta": {"third": "cost" if label.startswith("cost") else "tokens"},
        "margin": {"t": 40, "b": 40},
        "legend": {"orientation": "h", "y": -0.25},
        "height": 300,
    }
    return clean({"data": data, "layout": layout})


def rgym_view(ref: RunRef, summary: RunSummary, page: int) -> RunView:
    manifest = _json_file(ref.path, "manifest.json") or {}
    result = _json_file(ref.path, "result.json")
    transcript = rgym_transcript(ref.path, page)
    view = RunView(ref, summary, transcript, manifest, result)
    if result is not None:
        view.result_rows = result_rows(result)
        integrity = result.get("integrity") if isinstance(result.get("integrity"), dict) else {}
        view.integrity_rows = integrity_rows(integrity, result.get("sandbox"))
    view.budget_rows = budget_rows(manifest)
    view.artifact = artifact_of(ref.path)
    view.files = [
        n
        for n in ("manifest.json", "result.json", "events.jsonl")
        if safe_files.is_file(ref.path, n)
    ]
    metric = (result or {}).get("metric") or summary.metric
    live = result is None
    figures = {
        "score": score_figure(transcript, result, metric, always=live),
        "budget": budget_figure(transcript, manifest, always=live),
    }
    view.figures = {k: v for k, v in figures.items() if v is not None}
    return view


def find_traj(run: Path, task: str | None) -> str | None:
    """The run's .traj file name (the one named after its task when there are several)."""
    try:
        with os.scandir(run) as it:
            trajs = sorted(
                e.name for e in it if e.name.endswith(".traj") and e.is_file(follow_symlinks=False)
            )
    except OSError:
        return None
    if task and f"{task}.traj" in trajs:
        return f"{task}.traj"
    return trajs[0] if trajs else None


def mlgym_view(ref: RunRef, summary: RunSummary, page: int) -> RunView:
    """An MLGym run: the transcript from its .traj, the result from results.json and the
    trajectory's info block. No integrity block: MLGym records none."""
    name = find_traj(ref.path, summary.task)
    traj: dict[str, Any] = {}
    notes = []
    if name is not None:
        try:
            loaded = json.loads(safe_files.read_text(ref.path, name))
            traj = loaded if isinstance(loaded, dict) else {}
        except (safe_files.OutsideRun, json.JSONDecodeError) as e:
            notes.append(f"{name}: not readable as JSON ({type(e).__name__})")
    else:
        notes.append("no .traj file in this MLGym run folder: no transcript")
    transcript = mlgym_transcript(traj, summary.metric, page)
    results = _json_file(ref.path, "results.json") or {}
    info = traj.get("info") if isinstance(traj.get("info"), dict) else {}
    stats = info.get("model_stats") if isinstance(info.get("model_stats"), dict) else {}
    baseline = results.get("baseline") if isinstance(results.get("baseline"), dict) else {}
    from rgym.viewer.summaries import status_class

    cls = status_class(summary.exit_status)
    rows = [
        Row(
            "exit status",
            summary.exit_status or "—",
            {"submitted": "ok", "auto_submitted": "warn"}.get(cls, "error"),
        ),
        Row(f"best attempt {summary.metric or ''}".strip(), _text(summary.dev_best)),
        Row(f"last submission {summary.metric or ''}".strip(), _text(summary.test_score)),
        Row(
            "baseline",
            _text(baseline.get(summary.metric)) if summary.metric else _text(baseline or None),
        ),
        Row("recorded scores", _text(results.get("agent"))),
        Row("model stats", _text(stats or None)),
        Row("submission", _text(info.get("submission"))),
    ]
    view = RunView(ref, summary, transcript, {}, None, rows, notes=notes)
    view.notes.append(
        "MLGym's validate scores the test set, so its 'best attempt' is chosen on test scores."
    )
    view.files = [n for n in ("results.json", name) if n and safe_files.is_file(ref.path, n)]
    fake_result = {"baseline_score": baseline.get(summary.metric) if summary.metric else None}
    figures = {"score": score_figure(transcript, fake_result, summary.metric)}
    view.figures = {k: v for k, v in figures.items() if v is not None}
    return view


def run_view(ref: RunRef, summary: RunSummary, page: int = 1) -> RunView:
    return rgym_view(ref, summary, page) if ref.kind == "rgym" else mlgym_view(ref, summary, page)
