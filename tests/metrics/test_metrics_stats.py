"""normalised_score direction handling and bootstrap CIs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgym.metrics.stats import bootstrap_ci, normalised_score, stratified_bootstrap_ci


def test_normalised_score_max_task() -> None:
    # (0.80 - 0.77) / (0.82 - 0.77) = 0.03 / 0.05 = 0.6; baseline -> 0; reference -> 1
    assert normalised_score(0.80, 0.77, 0.82, "max") == pytest.approx(0.6)
    assert normalised_score(0.77, 0.77, 0.82, "max") == 0
    assert normalised_score(0.82, 0.77, 0.82, "max") == pytest.approx(1)
    assert normalised_score(0.72, 0.77, 0.82, "max") == pytest.approx(-1)


def test_normalised_score_min_task_lower_is_better() -> None:
    # (16 - 12) / (16 - 8) = 0.5; 20 is worse than the baseline: (16 - 20) / 8 = -0.5
    assert normalised_score(12.0, 16.0, 8.0, "min") == 0.5
    assert normalised_score(20.0, 16.0, 8.0, "min") == -0.5
    assert normalised_score(4.0, 16.0, 8.0, "min") == 1.5


@pytest.mark.parametrize(
    ("baseline", "reference", "direction"),
    [(0.8, 0.7, "max"), (16.0, 20.0, "min"), (1.0, 1.0, "max"), (0.0, 1.0, "up")],
)
def test_normalised_score_rejects_a_reference_that_does_not_beat_the_baseline(
    baseline: float, reference: float, direction: str
) -> None:
    with pytest.raises(ValueError):
        normalised_score(0.5, baseline, reference, direction)  # type: ignore[arg-type]


def test_bootstrap_is_deterministic_per_seed() -> None:
    values = [0.1, 0.5, 0.2, 0.9, 0.4]
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)
    assert bootstrap_ci(values)[0] == pytest.approx(0.42)  # (0.1+0.5+0.2+0.9+0.4) / 5


def test_bootstrap_two_values_spans_them() -> None:
    # Resample means of [0, 1] are 0, 0.5, 1 with chance 1/4, 1/2, 1/4: the 2.5% and 97.5%
    # quantiles of 2000 resamples are 0 and 1.
    assert bootstrap_ci([0.0, 1.0]) == (0.5, 0.0, 1.0)


def test_bootstrap_edge_cases() -> None:
    assert bootstrap_ci([0.7]) == (0.7, 0.7, 0.7)
    assert all(math.isnan(x) for x in bootstrap_ci([]))


def test_stratified_bootstrap_resamples_within_groups() -> None:
    # Each task is constant, so resampling runs *within* a task never moves the mean: the CI is
    # a point. Pooling the runs instead would give a wide interval.
    assert stratified_bootstrap_ci([[0.0, 0.0], [1.0, 1.0, 1.0]]) == (0.5, 0.5, 0.5)
    # Mean of task means, not of runs: (0 + (1+1+1+1)/4) / 2 = 0.5 although 4 of 5 runs are 1.
    assert stratified_bootstrap_ci([[0.0], [1.0] * 4])[0] == 0.5


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=30))
def test_bootstrap_interval_contains_the_mean(values: list[float]) -> None:
    mean, low, high = bootstrap_ci(values, n_resamples=500)
    tol = 1e-9 * (1 + max(abs(v) for v in values))  # float summation noise only
    assert low - tol <= mean <= high + tol
