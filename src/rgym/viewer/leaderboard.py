"""The leaderboard page's tables and plots, from the same :class:`Report` `rgym report` builds.

Nothing is computed here: :func:`rgym.metrics.report.build_report` does all of it, the tables
are its frames formatted as `rgym report`'s Markdown formats them, and the plots are plotly
figures drawn from the same frames (the views `rgym report --out` draws with matplotlib).
Figures are plain dicts: plotly's Python package is used only for the plotly.js it ships.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rgym.metrics.report import Report

VIEW_TITLES = {"best_attempt": "Best attempt", "last": "Last submission"}
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]
BASELINE_COLOR = "#000000"
PAGE_TABLES = (
    "best_attempt",
    "last",
    "aup",
    "normalised_overall",
    "normalised",
    "cost",
    "success",
    "rank_summary",
    "tasks",
)


def plot_text(value: Any) -> str:
    """A label for plotly, shown literally: plotly reads a few HTML tags in labels, so names
    (which come from run folders) have <, > and & escaped into entities it prints as text."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null (plotly draws a gap)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return clean(value.item())
    return value


@dataclass
class Table:
    """A report table as text cells, formatted as `rgym report` formats its Markdown."""

    name: str
    title: str
    blurb: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class Leaderboard:
    """Everything the leaderboard page shows; ``error`` when no finished run could be used."""

    tables: list[Table] = field(default_factory=list)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    n_runs: int = 0
    n_tasks: int = 0
    n_methods: int = 0
    tau_max: str = ""
    report_json: str = ""
    """`rgym report --json` of the same runs, for download and export."""
    error: str | None = None


def _table(name: str, frame: Any) -> Table:
    from rgym.metrics.render import SECTIONS, format_value

    table = frame.reset_index() if frame.index.name or frame.index.nlevels > 1 else frame
    title, blurb = SECTIONS[name]
    rows = [[format_value(v) for v in row] for row in table.itertuples(index=False)]
    return Table(name, title, blurb, [str(c) for c in table.columns], rows)


def _colors(methods: list[str]) -> dict[str, str]:
    from rgym.metrics.runs import BASELINE_METHOD

    return {
        m: BASELINE_COLOR if m == BASELINE_METHOD else PALETTE[i % len(PALETTE)]
        for i, m in enumerate(methods)
    }


def profiles_figure(report: Report) -> dict[str, Any]:
    """rho(tau) step curves, both MLGym views side by side, AUP of each in the legend."""
    from rgym.metrics.runs import BASELINE_METHOD

    methods = list(report.best_attempt.columns)
    colors = _colors(methods)

    def aup(method: str, view: str) -> float:
        in_table = method in report.aup.index
        return float(report.aup.loc[method, f"aup_{view}"]) if in_table else math.nan

    data = []
    for i, (view, title) in enumerate(VIEW_TITLES.items()):
        rows = report.profiles[report.profiles["view"] == view]
        for method in methods:
            curve = rows[rows["method"] == method]
            label = f"{method} (AUP {aup(method, 'best_attempt'):.3f} / {aup(method, 'last'):.3f})"
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "line": {
                        "shape": "hv",
                        "color": colors[method],
                        "dash": "dash" if method == BASELINE_METHOD else "solid",
                    },
                    "x": curve["tau"].tolist(),
                    "y": curve["rho"].tolist(),
                    "name": plot_text(label),
                    "legendgroup": plot_text(method),
                    "showlegend": i == 0,
                    "xaxis": "x" if i == 0 else "x2",
                    "yaxis": "y" if i == 0 else "y2",
                    "hovertemplate": f"{plot_text(method)}<br>τ=%{{x:.3f}} ρ=%{{y:.2f}}"
                    f"<extra>{title}</extra>",
                }
            )
    layout = {
        "title": {"text": "Performance profiles (MLGym); legend: AUP best attempt / last"},
        "grid": {"rows": 1, "columns": 2, "pattern": "independent"},
        "xaxis": {"title": {"text": "τ (log10 of ratio to the best) · best attempt"}},
        "xaxis2": {"title": {"text": "τ · last submission"}},
        "yaxis": {"title": {"text": "ρ(τ): fraction of tasks"}, "range": [-0.02, 1.02]},
        "yaxis2": {"range": [-0.02, 1.02], "matches": "y"},
        "legend": {"orientation": "h", "y": -0.2},
        "margin": {"t": 50, "r": 10},
        "height": 440,
    }
    return {"data": data, "layout": layout}


def normalised_figure(report: Report) -> dict[str, Any] | None:
    """Mean normalised score per method over tasks, with its 95% bootstrap CI."""
    overall = report.normalised_overall
    if overall.empty:
        return None
    methods = [str(m) for m in overall.index]
    mean = overall["mean"].to_numpy(dtype=float)
    data = [
        {
            "type": "bar",
            "x": [plot_text(m) for m in methods],
            "y": mean.tolist(),
            "marker": {"color": [_colors(methods)[m] for m in methods]},
            "error_y": {
                "type": "data",
                "symmetric": False,
                "array": (overall["ci_high"].to_numpy(dtype=float) - mean).tolist(),
                "arrayminus": (mean - overall["ci_low"].to_numpy(dtype=float)).tolist(),
            },
            "name": "mean over tasks",
            "hovertemplate": "%{x}: %{y:.3f}<extra>95% CI in the bars</extra>",
        }
    ]
    layout = {
        "title": {"text": "Normalised score (0 = baseline, 1 = reference), 95% CI"},
        "yaxis": {"title": {"text": "mean normalised score"}, "zeroline": True},
        "shapes": [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": y,
                "y1": y,
                "line": {"dash": "dot", "color": "#888"},
            }
            for y in (0, 1)
        ],
        "margin": {"t": 50, "r": 10},
        "height": 380,
    }
    return {"data": data, "layout": layout}


def cost_figure(report: Report) -> dict[str, Any] | None:
    """AUP (both views) and mean normalised score against mean cost per run."""
    cost = report.cost
    x_col, x_label = "mean_cost_usd", "mean cost per run (USD)"
    if cost[x_col].isna().all():
        x_col, x_label = "mean_tokens", "mean tokens per run"
    rows = cost.dropna(subset=[x_col])
    if rows.empty:
        return None
    names = [plot_text(m) for m in rows.index]
    data = []
    for view, symbol in zip(VIEW_TITLES, ("circle", "square"), strict=True):
        data.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": rows[x_col].tolist(),
                "y": rows[f"aup_{view}"].tolist(),
                "text": names,
                "textposition": "top center",
                "marker": {"symbol": symbol, "size": 10},
                "name": f"AUP, {VIEW_TITLES[view]}",
                "hovertemplate": "%{text}: AUP %{y:.3f} at %{x:.4g}<extra></extra>",
            }
        )
    if "normalised_mean" in rows.columns and rows["normalised_mean"].notna().any():
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": rows[x_col].tolist(),
                "y": rows["normalised_mean"].tolist(),
                "text": names,
                "yaxis": "y2",
                "marker": {"symbol": "diamond", "size": 10},
                "name": "normalised score (right)",
                "hovertemplate": "%{text}: normalised %{y:.3f} at %{x:.4g}<extra></extra>",
            }
        )
    x_max = float(rows[x_col].max())
    layout = {
        "title": {"text": "Score against cost per run"},
        # room on the right for the last point's label
        "xaxis": {"title": {"text": x_label}, "range": [-0.08 * x_max, 1.2 * x_max or 1.0]},
        "yaxis": {"title": {"text": "AUP"}},
        "yaxis2": {"title": {"text": "normalised score"}, "overlaying": "y", "side": "right"},
        "legend": {"orientation": "h", "y": -0.2},
        "margin": {"t": 50},
        "height": 400,
    }
    return {"data": data, "layout": layout}


def from_report(report: Report) -> Leaderboard:
    from rgym.metrics.render import format_value, render_json

    tables = report.tables()
    board = Leaderboard(
        tables=[_table(name, tables[name]) for name in PAGE_TABLES if not tables[name].empty],
        notes=list(report.notes),
        warnings=list(report.warnings),
        n_runs=len(report.runs),
        n_tasks=len(report.tasks),
        n_methods=report.best_attempt.shape[1],
        tau_max=format_value(report.tau_max),
        report_json=render_json(report),
    )
    figures = {
        "profiles": profiles_figure(report),
        "normalised": normalised_figure(report),
        "cost": cost_figure(report),
    }
    board.figures = {k: clean(v) for k, v in figures.items() if v is not None}
    return board


def build_leaderboard(run_dirs: Iterable[Path], *, include_unisolated: bool = False) -> Leaderboard:
    """The leaderboard of exactly these finished runs (each folder is given to `build_report`
    as a root of its own: the runs are the ones the table shows, attempts left out)."""
    from rgym.metrics.report import build_report
    from rgym.metrics.runs import NoRunsFound, RunsPathNotFound

    dirs = list(run_dirs)
    if not dirs:
        return Leaderboard(
            error="No finished runs are selected: the leaderboard needs runs "
            "with a result.json (rgym) or results.json / .traj (MLGym)."
        )
    try:
        report = build_report(dirs, include_unisolated=include_unisolated)
    except (NoRunsFound, RunsPathNotFound) as e:
        return Leaderboard(error=str(e))
    return from_report(report)
