"""Per-task metadata and MLGym's per-(method, task) score tables from run records.

These are the "Best Attempt@k" and "Best Submission@k" tables MLGym publishes: the best, over a
method's k runs of a task, of each run's best attempt or of its last submission.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from rgym.metrics.runs import BASELINE_METHOD, RunRecord

#: The two MLGym views: column in the runs table -> view name used in every report table.
VIEWS: dict[str, str] = {"best": "best_attempt", "last": "last"}


NUMERIC_COLUMNS = (
    "best",
    "last",
    "baseline",
    "reference",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "wall_seconds",
    "model_calls",
)


def runs_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per run, in the records' (sorted directory) order."""
    rows = []
    for r in records:
        row = asdict(r)
        row["path"] = str(r.path)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in NUMERIC_COLUMNS:
        frame[col] = frame[col].astype(float)
    frame["tokens"] = frame["prompt_tokens"].add(frame["completion_tokens"], fill_value=0.0)
    frame.loc[frame["prompt_tokens"].isna() & frame["completion_tokens"].isna(), "tokens"] = np.nan
    return frame


def task_table(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Per task: metric, direction, baseline, reference and run counts, plus conflict warnings.

    The baseline is MLGym's rule: the value from the first run, in sorted directory order, that
    has one. The reference (rgym only; MLGym runs carry none) follows the same rule.
    """
    warnings: list[str] = []
    rows = []
    for task, group in runs.groupby("task_id", sort=True):
        first = group.iloc[0]
        for col in ("metric", "direction"):
            values = group[col].unique()
            if len(values) > 1:
                warnings.append(
                    f"task {task!r}: runs disagree on {col} ({', '.join(map(str, values))}); "
                    f"using {first[col]!r} from {first['path']}"
                )
        baseline = group["baseline"].dropna()
        reference = group["reference"].dropna()
        rows.append(
            {
                "task": task,
                "metric": first["metric"],
                "direction": first["direction"],
                "baseline": baseline.iloc[0] if len(baseline) else np.nan,
                "reference": reference.iloc[0] if len(reference) else np.nan,
                "n_runs": len(group),
                "n_methods": group["method"].nunique(),
            }
        )
    return pd.DataFrame(rows).set_index("task"), warnings


def method_scores(runs: pd.DataFrame, tasks: pd.DataFrame, column: str) -> pd.DataFrame:
    """Task x method table of the best, over each method's runs, of the per-run ``column``.

    ``column`` is ``"best"`` (Best Attempt@k) or ``"last"`` (Best Submission@k). The baseline
    is appended as one more method, named ``baseline``, as MLGym does. Missing = NaN.
    """
    sign = runs["task_id"].map(tasks["direction"]).map({"max": 1.0, "min": -1.0})
    signed = runs.assign(_v=runs[column] * sign, _s=sign)
    best = (
        signed.groupby(["task_id", "method"])["_v"].max()
        * signed.groupby(["task_id", "method"])["_s"].first()
    )
    table = best.unstack("method").reindex(index=tasks.index)
    table = table.reindex(columns=sorted(table.columns))
    table[BASELINE_METHOD] = tasks["baseline"]
    table.index.name, table.columns.name = "task", "method"
    return table
