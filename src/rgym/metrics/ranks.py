"""Per-task ranks and their aggregates (mean rank, Borda count).

Tie rule: competition ("min") ranking, as in pandas ``rank(method="min")``: tied methods share
the best of the positions they occupy, and the next method skips accordingly (1, 2, 2, 4). It
was chosen over average ranks because ranks stay integers, a tie never costs the tied methods
anything against each other, and Borda points (n_methods - rank) stay whole numbers. Methods
missing on a task rank last, all tied with each other at (number present + 1).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from rgym.metrics.mlgym import Direction


def task_ranks(scores: pd.DataFrame, directions: Mapping[str, Direction]) -> pd.DataFrame:
    """Rank the methods (columns) within each task (row); 1 is best, direction-aware."""
    rows = {
        task: row.rank(method="min", ascending=directions[str(task)] == "min", na_option="bottom")
        for task, row in scores.iterrows()
    }
    ranks = pd.DataFrame(rows).T.reindex(index=scores.index, columns=scores.columns)
    ranks.index.name, ranks.columns.name = scores.index.name, scores.columns.name
    return ranks


def rank_summary(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per method: mean rank over tasks and Borda count (sum over tasks of n_methods - rank)."""
    n_methods = ranks.shape[1]
    out = pd.DataFrame({"mean_rank": ranks.mean(axis=0), "borda": (n_methods - ranks).sum(axis=0)})
    out.index.name = "method"
    return out
