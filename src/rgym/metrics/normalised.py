"""Normalised-score tables with bootstrap CIs: the view rgym reports next to MLGym's.

Each run's submitted score is mapped to 0 at the baseline and 1 at the reference, which makes
tasks with different metrics averageable, and the mean over seeds comes with a 95% CI.

Two choices, both conservative:

* The run's *last* (submitted) score is used, never the best attempt: picking the best of many
  test-set validations is selection on the test set and flatters the agent.
* A run with no score (it failed or never submitted) counts as 0, i.e. as if it had submitted
  the baseline. Dropping failures instead would reward an agent for failing on its hard seeds.

A task needs a reference score. rgym tasks carry one; MLGym runs do not, and none is invented:
such tasks are left out of this view with a note.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rgym.metrics.stats import (
    DEFAULT_RESAMPLES,
    bootstrap_ci,
    normalised_score,
    stratified_bootstrap_ci,
)


def normalisable_tasks(tasks: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Tasks whose baseline and reference define a scale, and notes about the ones left out."""
    keep, no_ref, bad = [], [], []
    for task, row in tasks.iterrows():
        if np.isnan(row["baseline"]) or np.isnan(row["reference"]):
            no_ref.append(str(task))
            continue
        try:
            normalised_score(row["baseline"], row["baseline"], row["reference"], row["direction"])
        except ValueError as exc:
            bad.append(f"{task} ({exc})")
            continue
        keep.append(str(task))
    notes = []
    if no_ref:
        notes.append(
            "normalised scores omitted for task(s) without a baseline and reference score "
            f"(MLGym runs carry no reference; none is invented): {', '.join(no_ref)}"
        )
    if bad:
        notes.append(f"normalised scores omitted for task(s) with an unusable reference: {bad}")
    return keep, notes


def run_normalised(runs: pd.DataFrame, tasks: pd.DataFrame, keep: list[str]) -> pd.Series:
    """Each run's normalised submitted score; failed runs are 0; NaN where the task has no scale."""
    out = pd.Series(np.nan, index=runs.index, dtype=float)
    for i, run in runs[runs["task_id"].isin(keep)].iterrows():
        t = tasks.loc[run["task_id"]]
        score = run["last"]
        out[i] = (
            0.0
            if np.isnan(score)
            else normalised_score(score, t["baseline"], t["reference"], t["direction"])
        )
    return out


def normalised_tables(
    runs: pd.DataFrame, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (method, task) and per method (over tasks) mean normalised score with 95% CI.

    ``runs`` must have a ``normalised`` column (NaN rows are ignored). The per-method figure is
    the mean over tasks of per-task means; its CI resamples runs within each task. A method is
    averaged over the tasks it has runs on (``n_tasks`` says how many).
    """
    scored = runs.dropna(subset=["normalised"])
    per_task, overall = [], []
    for method, by_method in scored.groupby("method", sort=True):
        groups = []
        for task, group in by_method.groupby("task_id", sort=True):
            values = group["normalised"].to_numpy()
            mean, low, high = bootstrap_ci(values, n_resamples=n_resamples, seed=seed)
            per_task.append(
                {
                    "method": method,
                    "task": task,
                    "n_runs": len(values),
                    "n_failed": int(group["last"].isna().sum()),
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
            groups.append(values)
        mean, low, high = stratified_bootstrap_ci(groups, n_resamples=n_resamples, seed=seed)
        overall.append(
            {"method": method, "n_tasks": len(groups), "mean": mean, "ci_low": low, "ci_high": high}
        )
    per_task_cols = ["method", "task", "n_runs", "n_failed", "mean", "ci_low", "ci_high"]
    overall_cols = ["method", "n_tasks", "mean", "ci_low", "ci_high"]
    return (
        pd.DataFrame(per_task, columns=per_task_cols),
        pd.DataFrame(overall, columns=overall_cols).set_index("method"),
    )
