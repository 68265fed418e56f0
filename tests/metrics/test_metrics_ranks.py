"""Per-task ranks, tie rule, mean rank and Borda count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rgym.metrics.ranks import rank_summary, task_ranks
from rgym.metrics.report import build_report


def test_ties_share_the_best_rank_and_missing_rank_last() -> None:
    scores = pd.DataFrame(
        {"a": [3.0, 3.0], "b": [3.0, 3.0], "c": [1.0, 1.0], "d": [np.nan, np.nan]},
        index=["up", "down"],
    )
    ranks = task_ranks(scores, {"up": "max", "down": "min"})
    # max: a, b tie at 3 -> both 1; c next -> 3 (competition ranking skips 2); d missing -> 4
    assert ranks.loc["up"].tolist() == [1, 1, 3, 4]
    # min: c best -> 1; a, b tie -> 2, 2; d missing -> 4
    assert ranks.loc["down"].tolist() == [2, 2, 1, 4]
    summary = rank_summary(ranks)
    # mean rank: a (1+2)/2 = 1.5; c (3+1)/2 = 2; d 4. Borda (4 - rank): a 3+2 = 5, c 1+3 = 4, d 0
    assert summary.loc["a"].tolist() == [1.5, 5]
    assert summary.loc["c"].tolist() == [2.0, 4]
    assert summary.loc["d"].tolist() == [4.0, 0]


def test_small_pool_rank_summary(small_pool: Path) -> None:
    s = build_report([small_pool]).rank_summary
    # Best attempt, ranks per task (reg, 3SAT, blotto), 4 methods:
    #   claude 1, 4, 4 -> mean 3,    Borda 3+0+0 = 3
    #   gpt4o  1, 1, 2 -> mean 4/3,  Borda 3+3+2 = 8
    #   llama  4, 2, 1 -> mean 7/3,  Borda 0+2+3 = 5
    #   base   3, 3, 3 -> mean 3,    Borda 1+1+1 = 3
    # Last: reg gpt4o .9, base .8, llama .7, claude NaN; 3SAT gpt4o, llama, base, claude;
    #   blotto llama, gpt4o, base, claude -> gpt4o 1,1,2 (8); llama 3,2,1 (6); base 2,3,3 (4);
    #   claude 4,4,4 (0)
    expected = {
        "claude": (3.0, 3, 4.0, 0),
        "gpt4o": (4 / 3, 8, 4 / 3, 8),
        "llama": (7 / 3, 5, 2.0, 6),
        "baseline": (3.0, 3, 8 / 3, 4),
    }
    for method, (mr_b, borda_b, mr_l, borda_l) in expected.items():
        row = s.loc[method]
        assert np.isclose(row["mean_rank_best_attempt"], mr_b)
        assert row["borda_best_attempt"] == borda_b
        assert np.isclose(row["mean_rank_last"], mr_l)
        assert row["borda_last"] == borda_l
    assert s.index[0] == "gpt4o"  # sorted by mean rank
