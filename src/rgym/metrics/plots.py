"""Report plots: performance profiles, AUP vs cost, per-task score distributions.

matplotlib is imported inside :func:`write_plots` (it takes a noticeable fraction of a second to
import) so that ``import rgym.metrics`` stays fast. Figures are built with the object API on an
Agg canvas, never through pyplot, so no global backend state is touched.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rgym.metrics.report import Report
from rgym.metrics.runs import BASELINE_METHOD

FORMATS = ("png", "svg")
VIEW_TITLES = {"best_attempt": "Best attempt", "last": "Last submission"}


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, out_dir: Path, stem: str) -> list[Path]:
    paths = []
    for ext in FORMATS:
        path = out_dir / f"{stem}.{ext}"
        fig.savefig(path, dpi=110, metadata={"Date": None} if ext == "svg" else None)
        # The layout is in figure coordinates, valid for every format: computing it once
        # instead of per file saves about a second on a 13-panel figure.
        fig.set_layout_engine("none")
        paths.append(path)
    return paths


def _method_colors(methods: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(methods) <= 10 else "tab20"]
    return {
        m: ("black" if m == BASELINE_METHOD else cmap(i % cmap.N)) for i, m in enumerate(methods)
    }


def plot_profiles(report: Report, out_dir: Path) -> list[Path]:
    """rho(tau) step curves for both MLGym views, AUP in the legend."""
    methods = list(report.best_attempt.columns)
    colors = _method_colors(methods)
    fig = _figure(11, 4.2)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (view, title) in zip(axes, VIEW_TITLES.items(), strict=True):
        data = report.profiles[report.profiles["view"] == view]
        for method in methods:
            curve = data[data["method"] == method]
            aup = report.aup.loc[method, f"aup_{view}"] if method in report.aup.index else math.nan
            ax.step(
                curve["tau"],
                curve["rho"],
                where="post",
                color=colors[method],
                linestyle="--" if method == BASELINE_METHOD else "-",
                label=f"{method} (AUP {aup:.3f})",
            )
        ax.set_title(f"Performance profile: {title}")
        ax.set_xlabel("τ  (log10 of ratio to the best method)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
    axes[0].set_ylabel("ρ(τ): fraction of tasks")
    return _save(fig, out_dir, "performance_profiles")


def plot_aup_vs_cost(report: Report, out_dir: Path) -> list[Path]:
    """AUP (both views) against mean cost per run: dollars if reported, else tokens."""
    cost = report.cost
    x_col, x_label = "mean_cost_usd", "mean cost per run (USD)"
    if cost[x_col].isna().all():
        x_col, x_label = "mean_tokens", "mean tokens per run"
    fig = _figure(6.5, 4.5)
    ax = fig.subplots()
    data = cost.dropna(subset=[x_col])
    if data.empty:
        ax.text(0.5, 0.5, "no run reports its cost", ha="center", va="center")
        ax.set_axis_off()
    else:
        for view, marker in zip(VIEW_TITLES, ("o", "s"), strict=True):
            ax.scatter(data[x_col], data[f"aup_{view}"], marker=marker, label=VIEW_TITLES[view])
        for method, row in data.iterrows():
            ax.annotate(
                str(method),
                (row[x_col], row["aup_best_attempt"]),
                fontsize="small",
                xytext=(4, 4),
                textcoords="offset points",
            )
        ax.set_xlabel(x_label)
        ax.set_ylabel("AUP")
        ax.set_title("AUP vs cost per run")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return _save(fig, out_dir, "aup_vs_cost")


def plot_score_distributions(report: Report, out_dir: Path) -> list[Path]:
    """One panel per task: each run's submitted score per method, baseline and reference lines."""
    runs, tasks = report.runs, report.tasks
    methods = sorted(runs["method"].unique())
    colors = _method_colors(methods + [BASELINE_METHOD])
    n = len(tasks)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig = _figure(3.4 * ncols, 2.8 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    position = {m: i for i, m in enumerate(methods)}
    jitter = np.random.default_rng(0)
    scored = runs.dropna(subset=["last"])
    by_task = dict(tuple(scored.groupby("task")))
    for index, (ax, (task, meta)) in enumerate(zip(axes, tasks.iterrows(), strict=False)):
        group = by_task.get(task)
        if group is not None:  # one scatter and one hlines per panel: few artists, fast saves
            x = group["method"].map(position).to_numpy(dtype=float)
            x += jitter.uniform(-0.15, 0.15, len(x))
            ax.scatter(x, group["last"], s=12, alpha=0.7, c=[colors[m] for m in group["method"]])
            means = group.groupby("method")["last"].mean()
            centre = means.index.map(position).to_numpy(dtype=float)
            ax.hlines(means.to_numpy(), centre - 0.25, centre + 0.25, color="black", lw=1)
        if not math.isnan(meta["baseline"]):
            ax.axhline(meta["baseline"], color="grey", ls="--", lw=1, label="baseline")
        if not math.isnan(meta["reference"]):
            ax.axhline(meta["reference"], color="green", ls=":", lw=1, label="reference")
        arrow = "↑" if meta["direction"] == "max" else "↓"
        ax.set_title(f"{task}\n{meta['metric']} {arrow}", fontsize="small")
        if index + ncols >= n:  # method names only under the lowest panel of each column
            ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right", fontsize="x-small")
        else:
            ax.set_xticks(range(len(methods)), [])
        ax.tick_params(axis="y", labelsize="x-small")
    for ax in axes[n:]:
        ax.set_axis_off()
    return _save(fig, out_dir, "score_distributions")


def write_plots(report: Report, out_dir: Path) -> list[Path]:
    """Write every report plot as PNG and SVG into ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return (
        plot_profiles(report, out_dir)
        + plot_aup_vs_cost(report, out_dir)
        + plot_score_distributions(report, out_dir)
    )
