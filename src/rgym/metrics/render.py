"""Render a :class:`Report` as text: Markdown for people, CSV and JSON for programs.

No third-party table formatter is used (pandas' ``to_markdown`` needs ``tabulate``, which rgym
does not depend on).
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pandas as pd

from rgym.metrics.report import Report

MISSING = "NA"

#: Title and one-line explanation per table, shown in Markdown. ``profiles`` and ``runs`` are too
#: long for a terminal and are only written to CSV/JSON.
SECTIONS: dict[str, tuple[str, str]] = {
    "tasks": ("Tasks", "Priority metric, direction, baseline (first run that has one), reference."),
    "best_attempt": (
        "Best Attempt@k (MLGym)",
        "Best over each method's runs of the run's best validated score.",
    ),
    "last": ("Best Submission@k (MLGym)", "Best over each method's runs of the last score."),
    "aup": (
        "AUP (MLGym)",
        "Area under the performance profile; depends on the pool of methods compared.",
    ),
    "ranks_best_attempt": (
        "Ranks, best attempt",
        "1 = best; ties share the best rank; missing last.",
    ),
    "ranks_last": ("Ranks, last submission", "1 = best; ties share the best rank; missing last."),
    "rank_summary": ("Rank summary", "Mean rank over tasks and Borda count (n_methods - rank)."),
    "normalised": (
        "Normalised score per task",
        "0 = baseline, 1 = reference; last score per run, failed runs count 0; 95% bootstrap CI.",
    ),
    "normalised_overall": (
        "Normalised score over tasks",
        "Mean of per-task means; CI resamples runs within each task.",
    ),
    "success": ("Success rate", "Fraction of runs whose submitted score beats the baseline."),
    "cost": ("Cost per run and score vs cost", "Means over runs that report each figure."),
}


def format_value(value: Any) -> str:
    """Short, stable cell text: 6 significant digits, ``NA`` for missing."""
    if value is None or value is pd.NA:
        return MISSING
    if isinstance(value, float):
        return MISSING if math.isnan(value) else format(value, ".6g")
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``frame``, its (named) index as the first column."""
    table = frame.reset_index() if frame.index.name or frame.index.nlevels > 1 else frame
    header = [str(c) for c in table.columns]
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for row in table.itertuples(index=False):
        cells = [format_value(v).replace("|", "\\|") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(report: Report, images: list[str] | None = None) -> str:
    """The whole report as Markdown: tables, then notes and warnings, then image links if any."""
    n_methods = report.best_attempt.shape[1]
    parts = [
        "# rgym leaderboard report",
        "",
        f"{len(report.runs)} runs, {len(report.tasks)} tasks, {n_methods} methods "
        f"(baseline included). tau_max = {format_value(report.tau_max)}.",
    ]
    tables = report.tables()
    for name, (title, blurb) in SECTIONS.items():
        frame = tables[name]
        parts += ["", f"## {title}", "", blurb, ""]
        parts.append(markdown_table(frame) if not frame.empty else "_(no data)_")
    if report.notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    if report.warnings:
        parts += ["", "## Warnings", ""] + [f"- {w}" for w in report.warnings]
    if images:
        parts += ["", "## Plots", ""] + [f"![{name}]({name})" for name in images]
    return "\n".join(parts) + "\n"


def table_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (NaN -> null), the named index kept as a column."""
    table = frame.reset_index() if frame.index.name else frame
    return json.loads(table.to_json(orient="records", double_precision=15))


def render_json(report: Report) -> str:
    """The whole report as one JSON document."""
    payload = {
        "tau_max": None if math.isnan(report.tau_max) else report.tau_max,
        "paths": [str(p) for p in report.paths],
        "notes": report.notes,
        "warnings": report.warnings,
        "tables": {name: table_records(frame) for name, frame in report.tables().items()},
    }
    return json.dumps(payload, indent=2)


def table_csv(frame: pd.DataFrame) -> str:
    """One table as CSV, named index kept."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=bool(frame.index.name))
    return buffer.getvalue()


def render_csv(report: Report) -> str:
    """All tables as CSV blocks, each introduced by a ``# <name>`` line (for a terminal)."""
    skip = {"profiles", "runs"}
    blocks = [
        f"# {name}\n{table_csv(frame)}"
        for name, frame in report.tables().items()
        if name not in skip
    ]
    return "\n".join(blocks)
