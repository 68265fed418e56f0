"""Success rate and cost per run: what a method achieved against what it spent.

Success means the submitted (last) score strictly beats the task's baseline; a run with no
score is a failure, so failing cannot raise a success rate. Tasks without a baseline have no
success rate (NaN) rather than a guessed one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def run_success(runs: pd.DataFrame, tasks: pd.DataFrame) -> pd.Series:
    """1.0 if the run's last score beats the task baseline, 0.0 if not, NaN without a baseline."""
    baseline = runs["task_id"].map(tasks["baseline"])
    direction = runs["task_id"].map(tasks["direction"])
    beat = np.where(direction == "max", runs["last"] > baseline, runs["last"] < baseline)
    return pd.Series(np.where(baseline.isna(), np.nan, beat.astype(float)), index=runs.index)


def success_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (method, task): runs, successes and success rate (``runs`` needs a success column)."""
    grouped = runs.groupby(["method", "task_id"], sort=True)["success"]
    out = pd.DataFrame(
        {
            "n_runs": grouped.size(),
            "n_success": grouped.sum(min_count=1),
            "success_rate": grouped.mean(),
        }
    ).reset_index()
    return out.rename(columns={"task_id": "task"})


COST_COLUMNS = {
    "prompt_tokens": "mean_prompt_tokens",
    "completion_tokens": "mean_completion_tokens",
    "tokens": "mean_tokens",
    "cost_usd": "mean_cost_usd",
    "wall_seconds": "mean_wall_seconds",
    "model_calls": "mean_model_calls",
}


def cost_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per method: runs, overall success rate and mean cost per run (over runs reporting it)."""
    grouped = runs.groupby("method", sort=True)
    out = pd.DataFrame({"n_runs": grouped.size(), "success_rate": grouped["success"].mean()})
    for col, name in COST_COLUMNS.items():
        out[name] = grouped[col].mean()
    out["total_cost_usd"] = grouped["cost_usd"].sum(min_count=1)
    out.index.name = "method"
    return out
