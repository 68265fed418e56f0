"""MLGym's performance profiles and AUP (area under the profile), reproduced exactly.

Per task, a method's ratio is how far it is from the best feasible method (1 = best). The profile
rho_m(tau) is the fraction of tasks on which log10(ratio) <= tau, and AUP is its left Riemann sum
over a 500-point grid from 0 to tau_max.

Quirks kept for fidelity, and worth knowing when reading the numbers:

* AUP depends on the pool of methods. Adding or removing a method moves each task's best (so
  every ratio) and tau_max (so the grid): AUPs from different pools are not comparable.
* A score below 0 makes a method infeasible, whatever the metric. This is MLGym's rule, kept so
  its tables can be reproduced; it makes e.g. a negative game score as bad as no submission.
* tau_max is taken over both views together, so the two AUP columns share one grid.

Two degenerate cases MLGym leaves undefined are handled, with a warning: a feasible method whose
ratio is infinite (a zero in the denominator) is treated as infeasible, and a task with no
feasible method gives every method an undefined ratio there (it counts against all of them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rgym.metrics.mlgym import Direction

GRID_POINTS = 500
INFEASIBLE_PENALTY = 1.05


@dataclass(frozen=True)
class TaskRatios:
    """One task's performance ratios, its worst feasible ratio and its tau candidate."""

    ratios: pd.Series
    worst_ratio: float | None
    tau_candidate: int | None
    zero_division: bool = False


def task_ratios(scores: pd.Series, baseline: float | None, direction: Direction) -> TaskRatios:
    """MLGym's per-task ratios for every method in ``scores`` (method -> score, NaN = missing).

    Infeasible: missing, below 0, or worse than the baseline. Comparisons with NaN are false, so
    a missing baseline makes nobody infeasible on the baseline rule. Feasible ratios are
    best/score (max) or score/best (min); infeasible methods get worst_ratio * 1.05, and the
    task's tau candidate is ceil(worst_ratio * 1.05).
    """
    s = scores.astype(float)
    base = np.nan if baseline is None else float(baseline)
    worse = s < base if direction == "max" else s > base
    feasible = ~(s.isna() | (s < 0) | worse)
    ratios = pd.Series(np.nan, index=s.index, dtype=float)
    if not feasible.any():
        return TaskRatios(ratios, None, None)
    good = s[feasible]
    best = good.max() if direction == "max" else good.min()
    with np.errstate(divide="ignore", invalid="ignore"):
        r = best / good if direction == "max" else good / best
    r[good == best] = 1.0  # best/best, also when best is 0 (0/0 would be NaN)
    finite = r[np.isfinite(r)]
    worst = float(finite.max())
    ratios[finite.index] = finite
    ratios[~ratios.index.isin(finite.index)] = worst * INFEASIBLE_PENALTY
    candidate = math.ceil(worst * INFEASIBLE_PENALTY)
    return TaskRatios(ratios, worst, candidate, zero_division=len(finite) < len(r))


def tau_max_from_candidates(candidates: list[int]) -> float:
    """log10 of the largest tau candidate, rounded *up* to one decimal (ceil(x * 10) / 10)."""
    return math.ceil(math.log10(max(candidates)) * 10) / 10


def profile_curve(log_ratios: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """rho(tau) for each method: fraction of tasks (rows) with log10(ratio) <= tau.

    ``log_ratios`` is tasks x methods; the result is len(taus) x methods. NaN counts as never.
    """
    with np.errstate(invalid="ignore"):
        hit = log_ratios[None, :, :] <= taus[:, None, None]
    return hit.mean(axis=1)


def area_under_profile(taus: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Left Riemann sum sum_i (tau_{i+1} - tau_i) * rho(tau_i), per method (column)."""
    return (np.diff(taus)[:, None] * rho[:-1]).sum(axis=0)


@dataclass
class ProfileResult:
    """Everything behind the AUP table, for tables and plots."""

    tau_max: float
    taus: np.ndarray
    ratios: dict[str, pd.DataFrame]
    rho: dict[str, pd.DataFrame]
    aup: pd.DataFrame
    candidates: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def performance_profiles(
    views: Mapping[str, pd.DataFrame],
    directions: Mapping[str, Direction],
    baselines: Mapping[str, float | None],
) -> ProfileResult:
    """Profiles and AUP for each view (task x method score tables) on one shared tau grid.

    AUP values are full precision here; MLGym reports them to 3 decimals (the report rounds).
    """
    warnings: list[str] = []
    ratios: dict[str, pd.DataFrame] = {}
    cands: dict[str, dict[str, float]] = {}
    for view, table in views.items():
        rows, cands[view] = {}, {}
        for task, scores in table.iterrows():
            tr = task_ratios(scores, baselines.get(str(task)), directions[str(task)])
            rows[task] = tr.ratios
            cands[view][task] = np.nan if tr.tau_candidate is None else float(tr.tau_candidate)
            if tr.zero_division:
                warnings.append(
                    f"performance profile ({view}): task {task!r} has a best score of 0 or a "
                    "feasible score of 0, so some ratios divide by zero; those methods are "
                    "treated as infeasible"
                )
            if tr.tau_candidate is None:
                warnings.append(
                    f"performance profile ({view}): task {task!r} has no feasible method "
                    "(all missing, negative or worse than the baseline); it counts against all"
                )
        ratios[view] = pd.DataFrame(rows).T.reindex(index=table.index, columns=table.columns)
    candidates = pd.DataFrame(cands, dtype=float)
    all_cands = [int(c) for c in candidates.to_numpy().ravel() if not np.isnan(c)]
    if not all_cands:
        warnings.append("performance profile: no task has a feasible method; AUP is undefined")
        tau_max = float("nan")
        taus = np.array([])
    else:
        tau_max = tau_max_from_candidates(all_cands)
        taus = np.linspace(0, tau_max, GRID_POINTS)
    rho: dict[str, pd.DataFrame] = {}
    aup: dict[str, pd.Series] = {}
    for view, r in ratios.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(r.to_numpy(dtype=float))
        curve = profile_curve(logs, taus) if len(taus) else np.empty((0, r.shape[1]))
        rho[view] = pd.DataFrame(curve, index=pd.Index(taus, name="tau"), columns=r.columns)
        area = area_under_profile(taus, curve) if len(taus) else np.full(r.shape[1], np.nan)
        aup[view] = pd.Series(area, index=r.columns)
    aup_table = pd.DataFrame(aup)
    aup_table.index.name = "method"
    return ProfileResult(tau_max, taus, ratios, rho, aup_table, candidates, warnings)
