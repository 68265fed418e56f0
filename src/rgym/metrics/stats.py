"""Normalised scores and bootstrap confidence intervals: the statistics behind the better views.

A mean over a handful of seeds says little without its spread, so every mean rgym reports next
to MLGym's single numbers comes with a percentile-bootstrap 95% interval. The RNG is seeded so a
report is byte-for-byte reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rgym.metrics.mlgym import Direction

DEFAULT_RESAMPLES = 2000


def normalised_score(
    score: float, baseline: float, reference: float, direction: Direction
) -> float:
    """Put a score on a task-free scale: 0 at the baseline, 1 at the reference score.

    For ``max`` tasks it is ``(score - baseline) / (reference - baseline)``; for ``min`` tasks
    ``(baseline - score) / (baseline - reference)``, so beating the baseline is positive either
    way. The two forms are algebraically equal; ``direction`` is what lets us reject a reference
    that does not beat the baseline, which would silently flip the sign of every result.

    Raises:
        ValueError: unknown direction, reference equal to the baseline, or reference worse than
            the baseline in the given direction.
    """
    if direction not in ("max", "min"):
        raise ValueError(f"direction must be 'max' or 'min', got {direction!r}")
    if reference == baseline:
        raise ValueError(f"reference ({reference}) equals baseline: the scale is undefined")
    if direction == "max":
        if reference < baseline:
            raise ValueError(f"max task: reference {reference} is below baseline {baseline}")
        return (score - baseline) / (reference - baseline)
    if reference > baseline:
        raise ValueError(f"min task: reference {reference} is above baseline {baseline}")
    return (baseline - score) / (baseline - reference)


def stratified_bootstrap_ci(
    groups: Sequence[Sequence[float]],
    n_resamples: int = DEFAULT_RESAMPLES,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of group means, with a percentile bootstrap CI that resamples within each group.

    Used to aggregate over tasks: each task keeps its own number of runs in every resample, so a
    task with many seeds cannot crowd out one with few, and the interval reflects seed noise
    only (the task set is fixed, not a sample). Empty groups are ignored; with no values at all
    the result is ``(nan, nan, nan)``.
    """
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    arrays = [np.asarray(g, dtype=float) for g in groups if len(g) > 0]
    if not arrays:
        return (float("nan"),) * 3
    point = float(np.mean([a.mean() for a in arrays]))
    rng = np.random.default_rng(seed)
    total = np.zeros(n_resamples)
    for a in arrays:
        idx = rng.integers(0, len(a), size=(n_resamples, len(a)))
        total += a[idx].mean(axis=1)
    means = total / len(arrays)
    tail = (1 - ci) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return point, float(low), float(high)


def bootstrap_ci(
    values: Sequence[float],
    n_resamples: int = DEFAULT_RESAMPLES,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Sample mean and percentile-bootstrap CI ``(mean, low, high)`` over runs (seeds).

    Deterministic for a given ``seed``. One value gives a zero-width interval; no values give
    ``(nan, nan, nan)``.
    """
    return stratified_bootstrap_ci([values], n_resamples=n_resamples, ci=ci, seed=seed)
