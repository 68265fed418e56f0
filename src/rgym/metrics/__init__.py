"""Leaderboard metrics for agent runs: MLGym's published views, exactly, and better ones beside.

MLGym's views (best attempt / last submission tables, performance profiles, AUP, ranks) are
reproduced from its runs so its tables can be checked; rgym adds normalised scores with bootstrap
confidence intervals, success rates and cost. Plotting imports matplotlib lazily.
"""

from __future__ import annotations

from rgym.metrics.cli import report_command
from rgym.metrics.mlgym import PRIORITY_METRICS, MLGymRunName, parse_mlgym_run_name
from rgym.metrics.profiles import ProfileResult, TaskRatios, performance_profiles, task_ratios
from rgym.metrics.ranks import rank_summary, task_ranks
from rgym.metrics.render import render_markdown
from rgym.metrics.report import Report, build_report
from rgym.metrics.runs import NoRunsFound, RunRecord, RunsPathNotFound, load_runs
from rgym.metrics.stats import bootstrap_ci, normalised_score, stratified_bootstrap_ci
from rgym.metrics.write import write_report

__all__ = [
    "PRIORITY_METRICS",
    "MLGymRunName",
    "NoRunsFound",
    "ProfileResult",
    "Report",
    "RunRecord",
    "RunsPathNotFound",
    "TaskRatios",
    "bootstrap_ci",
    "build_report",
    "load_runs",
    "normalised_score",
    "parse_mlgym_run_name",
    "performance_profiles",
    "rank_summary",
    "render_markdown",
    "report_command",
    "stratified_bootstrap_ci",
    "task_ranks",
    "task_ratios",
    "write_report",
]
