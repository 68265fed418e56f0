"""Build a leaderboard report from run directories: MLGym's tables plus rgym's better views.

:func:`build_report` does all the computing; rendering and writing (``render``, ``write``,
``plots``) only format what is here, so every output format shows the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rgym.metrics.normalised import normalisable_tasks, normalised_tables, run_normalised
from rgym.metrics.outcomes import cost_table, run_success, success_table
from rgym.metrics.profiles import performance_profiles
from rgym.metrics.ranks import rank_summary, task_ranks
from rgym.metrics.runs import load_runs
from rgym.metrics.scores import VIEWS, method_scores, runs_frame, task_table
from rgym.metrics.stats import DEFAULT_RESAMPLES

AUP_DECIMALS = 3


@dataclass
class Report:
    """Every table of a leaderboard report, as DataFrames, plus what was skipped and why.

    MLGym's views: ``best_attempt`` / ``last`` (task x method, Best Attempt@k / Best
    Submission@k, baseline included as a method), ``ranks_*`` and ``rank_summary``, ``aup``
    (3 decimals, as MLGym reports), and ``profiles`` (long: view, tau, method, rho). rgym's
    views: ``normalised`` / ``normalised_overall`` (mean and 95% bootstrap CI), ``success``
    and ``cost`` (per method, with AUP alongside for score-vs-cost). ``runs`` has one row per run.
    """

    runs: pd.DataFrame
    tasks: pd.DataFrame
    best_attempt: pd.DataFrame
    last: pd.DataFrame
    ranks_best_attempt: pd.DataFrame
    ranks_last: pd.DataFrame
    rank_summary: pd.DataFrame
    aup: pd.DataFrame
    profiles: pd.DataFrame
    normalised: pd.DataFrame
    normalised_overall: pd.DataFrame
    success: pd.DataFrame
    cost: pd.DataFrame
    tau_max: float
    paths: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Named tables in report order (``profiles`` and ``runs`` last: they are long)."""
        return {
            "tasks": self.tasks,
            "best_attempt": self.best_attempt,
            "last": self.last,
            "aup": self.aup,
            "ranks_best_attempt": self.ranks_best_attempt,
            "ranks_last": self.ranks_last,
            "rank_summary": self.rank_summary,
            "normalised": self.normalised,
            "normalised_overall": self.normalised_overall,
            "success": self.success,
            "cost": self.cost,
            "profiles": self.profiles,
            "runs": self.runs,
        }


def build_report(
    paths: Iterable[Path],
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    *,
    include_unisolated: bool = False,
) -> Report:
    """Read every run under ``paths`` and compute all leaderboard tables.

    Raises:
        RunsPathNotFound: a path does not exist.
        NoRunsFound: no usable run was found under the paths.
    """
    roots = [Path(p) for p in paths]
    loaded = load_runs(roots, include_unisolated=include_unisolated)
    warnings, notes = list(loaded.warnings), list(loaded.notes)
    runs = runs_frame(loaded.records)
    tasks, conflicts = task_table(runs)
    warnings += conflicts
    directions = tasks["direction"].to_dict()

    views = {name: method_scores(runs, tasks, column) for column, name in VIEWS.items()}
    profiles = performance_profiles(views, directions, tasks["baseline"].to_dict())
    warnings += profiles.warnings
    for view, cands in profiles.candidates.items():
        tasks[f"tau_candidate_{view}"] = cands.astype("Int64")
    missing_baseline = tasks.index[tasks["baseline"].isna()].tolist()
    if missing_baseline:
        notes.append(
            "no baseline value in any run of task(s) "
            f"{', '.join(map(str, missing_baseline))}: the baseline method counts as missing there"
        )

    ranks = {name: task_ranks(table, directions) for name, table in views.items()}
    summary = pd.concat(
        [rank_summary(r).add_suffix(f"_{name}") for name, r in ranks.items()], axis=1
    ).sort_values([f"mean_rank_{name}" for name in ranks])

    aup = profiles.aup.rename(columns=lambda v: f"aup_{v}").round(AUP_DECIMALS)
    aup = aup.sort_values(list(aup.columns), ascending=False)
    long_profiles = pd.concat(
        [
            rho.reset_index()
            .melt(id_vars="tau", var_name="method", value_name="rho")
            .assign(view=view)
            for view, rho in profiles.rho.items()
        ],
        ignore_index=True,
    )[["view", "tau", "method", "rho"]]

    keep, norm_notes = normalisable_tasks(tasks)
    notes += norm_notes
    runs["normalised"] = run_normalised(runs, tasks, keep)
    runs["success"] = run_success(runs, tasks)
    normalised, normalised_overall = normalised_tables(runs, n_resamples=n_resamples, seed=seed)
    if normalised_overall["n_tasks"].nunique() > 1:
        notes.append(
            "methods cover different numbers of normalisable tasks (see n_tasks): their overall "
            "normalised means are over different task sets"
        )
    cost = cost_table(runs).join(aup)
    if not normalised_overall.empty:
        cost = cost.join(normalised_overall["mean"].rename("normalised_mean"))
    if runs["success"].isna().any():
        notes.append("success rate excludes runs of tasks with no baseline")

    return Report(
        runs=runs.rename(columns={"task_id": "task", "best": "best_attempt"}),
        tasks=tasks,
        best_attempt=views["best_attempt"],
        last=views["last"],
        ranks_best_attempt=ranks["best_attempt"],
        ranks_last=ranks["last"],
        rank_summary=summary,
        aup=aup,
        profiles=long_profiles,
        normalised=normalised,
        normalised_overall=normalised_overall,
        success=success_table(runs),
        cost=cost,
        tau_max=profiles.tau_max,
        paths=roots,
        warnings=warnings,
        notes=notes,
    )
