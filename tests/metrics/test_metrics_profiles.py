"""MLGym performance profiles and AUP: hand-computed examples and properties."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgym.metrics.profiles import performance_profiles, task_ratios, tau_max_from_candidates
from rgym.metrics.report import build_report


def plain_aup(log_ratios_per_task: list[float], tau_max: float) -> float:
    """Independent left Riemann sum: plain Python grid i * tau_max / 499, no numpy."""
    taus = [i * (tau_max / 499) for i in range(500)]
    n = len(log_ratios_per_task)
    return sum(
        (taus[i + 1] - taus[i]) * sum(1 for x in log_ratios_per_task if x <= taus[i]) / n
        for i in range(499)
    )


def test_task_ratios_max_task_with_infeasible_methods() -> None:
    # baseline 0.8; feasible: a 0.9, b 0.9 (tie), base 0.8; c 0.7 < baseline; d missing; e < 0.
    scores = pd.Series({"a": 0.9, "b": 0.9, "c": 0.7, "d": np.nan, "e": -0.1, "base": 0.8})
    tr = task_ratios(scores, 0.8, "max")
    # best = 0.9; base ratio = 0.9 / 0.8 = 1.125 = worst; infeasible: 1.125 * 1.05 = 1.18125
    assert tr.worst_ratio == pytest.approx(1.125)
    assert tr.tau_candidate == 2  # ceil(1.18125)
    expected = {"a": 1.0, "b": 1.0, "base": 1.125, "c": 1.18125, "d": 1.18125, "e": 1.18125}
    assert tr.ratios.to_dict() == pytest.approx(expected)


def test_task_ratios_min_task_and_missing_baseline_makes_no_one_infeasible() -> None:
    # min task, no baseline: 40 is not "worse than baseline" (NaN comparison is false).
    tr = task_ratios(pd.Series({"a": 10.0, "b": 40.0, "c": np.nan}), None, "min")
    # ratios score / best: a 1, b 4 (worst); c missing -> 4 * 1.05 = 4.2; candidate ceil(4.2) = 5
    assert tr.ratios.to_dict() == pytest.approx({"a": 1.0, "b": 4.0, "c": 4.2})
    assert tr.tau_candidate == 5


def test_task_with_no_feasible_method_counts_against_everyone() -> None:
    tr = task_ratios(pd.Series({"a": -1.0, "b": np.nan}), -0.5, "max")
    assert tr.tau_candidate is None and tr.ratios.isna().all()


def test_tau_max_rounds_up_to_one_decimal() -> None:
    assert tau_max_from_candidates([2, 5, 3]) == 0.7  # log10(5) = 0.69897 -> 0.7
    assert tau_max_from_candidates([2]) == 0.4  # log10(2) = 0.30103 -> 0.4
    assert tau_max_from_candidates([11]) == 1.1  # log10(11) = 1.0414 -> 1.1


def test_small_pool_aup_matches_hand_computation(small_pool: Path) -> None:
    report = build_report([small_pool])
    lg = math.log10
    # Per-task ratios, worked out in conftest.build_small_pool's scores (order: reg, 3SAT, blotto).
    # Best attempt:
    #   reg   (max, base .80): gpt4o .90 -> 1, claude .90 -> 1, baseline .9/.8 = 1.125 (worst),
    #         llama .70 < base -> 1.125 * 1.05 = 1.18125; candidate ceil(1.18125) = 2
    #   3SAT  (min, base 16): gpt4o 12 -> 1, llama 15/12 = 1.25, baseline 16/12 (worst),
    #         claude missing -> 16/12 * 1.05 = 1.4; candidate 2
    #   blotto(max, base -.248 < 0 infeasible): llama .2 -> 1, gpt4o .2/.1 = 2 (worst),
    #         claude missing, baseline -> 2.1; candidate 3
    best = {
        "claude": [0.0, lg(1.4), lg(2.1)],
        "gpt4o": [0.0, 0.0, lg(2.0)],
        "llama": [lg(1.18125), lg(1.25), 0.0],
        "baseline": [lg(1.125), lg(16 / 12), lg(2.1)],
    }
    # Last:
    #   reg:   gpt4o .90 -> 1, baseline 1.125 (worst); llama .70 and claude (missing) 1.18125; 2
    #   3SAT:  gpt4o 13 -> 1, llama 15/13, baseline 16/13 (worst); claude 16/13*1.05; cand 2
    #   blotto: llama .2 -> 1, gpt4o .2/.05 = 4 (worst); claude, baseline 4.2; candidate 5
    last = {
        "claude": [lg(1.18125), lg(16 / 13 * 1.05), lg(4.2)],
        "gpt4o": [0.0, 0.0, lg(4.0)],
        "llama": [lg(1.18125), lg(15 / 13), 0.0],
        "baseline": [lg(1.125), lg(16 / 13), lg(4.2)],
    }
    # tau_max = ceil(log10(5) * 10) / 10 = ceil(6.9897) / 10 = 0.7
    assert report.tau_max == 0.7
    for method in best:
        row = report.aup.loc[method]
        assert row["aup_best_attempt"] == round(plain_aup(best[method], 0.7), 3)
        assert row["aup_last"] == round(plain_aup(last[method], 0.7), 3)
    # The same numbers, pinned (3 decimals, as MLGym reports them):
    assert report.aup.loc["gpt4o"].tolist() == [0.599, 0.499]
    assert report.aup.loc["claude"].tolist() == [0.543, 0.430]
    assert report.aup.loc["llama"].tolist() == [0.643, 0.655]
    assert report.aup.loc["baseline"].tolist() == [0.533, 0.444]
    assert report.tasks["tau_candidate_last"].tolist() == [2, 5, 2]  # 3SATTime, blotto, reg
    assert report.tasks.loc["regressionKaggleHousePrice", "baseline"] == 0.80  # first with one


def test_small_pool_score_tables(small_pool: Path) -> None:
    report = build_report([small_pool])
    ba, last = report.best_attempt, report.last
    assert list(ba.columns) == ["claude", "gpt4o", "llama", "baseline"]
    assert ba.loc["regressionKaggleHousePrice"].tolist() == [0.90, 0.90, 0.70, 0.80]
    assert last.loc["regressionKaggleHousePrice", "gpt4o"] == 0.90  # max(0.90, 0.86)
    assert math.isnan(last.loc["regressionKaggleHousePrice", "claude"])  # last entry lacks r2
    assert ba.loc["3SATTime", "gpt4o"] == 12.0 and last.loc["3SATTime", "gpt4o"] == 13.0
    assert math.isnan(ba.loc["3SATTime", "claude"])
    assert ba.loc["blotto"].tolist()[1:] == [0.10, 0.20, -0.248]
    assert math.isnan(ba.loc["blotto", "claude"])


# ---------------------------------------------------------------- properties (hypothesis)

score = st.one_of(st.just(float("nan")), st.floats(-2, 50, allow_nan=False))


@st.composite
def pools(draw: st.DrawFn) -> tuple[dict[str, pd.DataFrame], dict[str, str], dict[str, float]]:
    n_tasks = draw(st.integers(1, 4))
    n_methods = draw(st.integers(1, 4))
    tasks = [f"t{i}" for i in range(n_tasks)]
    methods = [f"m{j}" for j in range(n_methods)]
    directions = {t: draw(st.sampled_from(["max", "min"])) for t in tasks}
    baselines = {t: draw(score) for t in tasks}
    views = {
        v: pd.DataFrame(
            [[draw(score) for _ in methods] for _ in tasks], index=tasks, columns=methods
        )
        for v in ("best_attempt", "last")
    }
    return views, directions, baselines


@settings(max_examples=60, deadline=None)
@given(pools())
def test_profile_is_a_nondecreasing_fraction(pool) -> None:
    views, directions, baselines = pool
    result = performance_profiles(views, directions, baselines)
    for rho in result.rho.values():
        values = rho.to_numpy()
        assert ((values >= 0) & (values <= 1)).all()
        assert (np.diff(values, axis=0) >= 0).all()
    if not math.isnan(result.tau_max):
        assert (result.aup.to_numpy() <= result.tau_max + 1e-12).all()
        assert (result.aup.to_numpy() >= 0).all()


positive = st.floats(0.1, 100, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["max", "min"]),
            st.lists(positive, min_size=1, max_size=3),
            st.one_of(st.none(), positive),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_method_best_on_every_task_has_aup_tau_max(tasks) -> None:
    # "star" strictly beats every other method and the baseline, and is feasible (>= 0, not
    # worse than the baseline), so its ratio is 1 everywhere and rho = 1 on the whole grid.
    rows, directions, baselines = [], {}, {}
    for i, (direction, others, baseline) in enumerate(tasks):
        pool = others + ([baseline] if baseline is not None else [])
        star = max(pool) * 2 if direction == "max" else min(pool) / 2
        rows.append(others + [float("nan")] * (3 - len(others)) + [star])
        directions[f"t{i}"], baselines[f"t{i}"] = direction, baseline
    table = pd.DataFrame(rows, index=list(directions), columns=["a", "b", "c", "star"])
    result = performance_profiles({"best_attempt": table, "last": table}, directions, baselines)
    assert (result.rho["best_attempt"]["star"] == 1.0).all()
    assert result.aup.loc["star", "best_attempt"] == pytest.approx(result.tau_max, abs=1e-12)
    assert result.aup["best_attempt"].max() == result.aup.loc["star", "best_attempt"]


def test_zero_best_on_a_min_task_is_handled_with_a_warning() -> None:
    # min task, best 0: 1/0 is infinite, so c (and the baseline, 2/0) count as infeasible.
    # worst finite ratio = 1 (b itself) -> infeasible ratio 1.05, candidate ceil(1.05) = 2.
    table = pd.DataFrame({"b": [0.0], "c": [1.0], "baseline": [2.0]}, index=["t"])
    result = performance_profiles({"best_attempt": table}, {"t": "min"}, {"t": 2.0})
    assert result.ratios["best_attempt"].loc["t"].tolist() == [1.0, 1.05, 1.05]
    assert result.candidates.loc["t", "best_attempt"] == 2
    assert any("divide by zero" in w for w in result.warnings)
