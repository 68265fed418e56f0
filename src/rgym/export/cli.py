"""`rgym export sft|rl` as a typer app; cli.py registers it. Only typer, pathlib and typing are
imported at load time, so `rgym --help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

export_app = typer.Typer(
    help="Turn runs (rgym's and MLGym's) into training data: chat transcripts for supervised "
    "fine-tuning, episodes with rewards for RL. See docs/export.md for every field.",
    no_args_is_help=True,
)

Runs = Annotated[
    list[Path],
    typer.Argument(help="Folders of runs (searched recursively; rgym and MLGym runs mixed)."),
]
Out = Annotated[
    Path, typer.Option("--out", help="The file to write: .jsonl, or .parquet (verl reads parquet).")
]
Status = Annotated[
    list[str] | None,
    typer.Option(
        "--status",
        help="Only runs with these exit statuses (comma-separated or repeated); "
        "auto_submitted matches every auto_submitted:<budget>.",
    ),
]
MinScore = Annotated[
    float | None,
    typer.Option(
        "--min-score",
        help="Only runs whose normalised score (0 = baseline, 1 = reference) is at least this; "
        "runs without one are left out.",
    ),
]
TasksDir = Annotated[
    list[Path] | None,
    typer.Option(
        "--tasks-dir", help="Where your own tasks live, if not where the runs recorded them."
    ),
]


def _statuses(values: list[str] | None) -> list[str]:
    return [s.strip() for v in values or [] for s in v.split(",") if s.strip()]


def _run(kind: str, runs: list[Path], out: Path, **options) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from rgym.export.command import ExportError, ExportOptions, export_runs

    err = Console(stderr=True, soft_wrap=True)
    opts = ExportOptions(kind=kind, **options)  # type: ignore[arg-type]
    progress = Progress(
        TextColumn("exporting runs"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    task = progress.add_task("runs", total=None)
    try:
        with progress:
            report = export_runs(
                runs, out, opts, on_run=lambda n, of: progress.update(task, completed=n, total=of)
            )
    except ExportError as e:
        err.print(f"error: {e}", style="bold red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    for warning in report.warnings:
        err.print(f"warning: {warning}", style="yellow", markup=False, highlight=False)
    err.print(report.summary(), markup=False, highlight=False)


@export_app.command("sft")
def sft_cmd(
    runs: Runs,
    out: Out,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="openai (messages, tool calls with JSON-string arguments), trl (TRL's "
            "conversational types) or verl (verl's multi-turn SFT parquet).",
        ),
    ] = "openai",
    per_step: Annotated[
        bool,
        typer.Option(
            "--per-step",
            help="One row per model reply: the prompt exactly as that step sent it (older "
            "outputs elided as the agent elided them), and the reply.",
        ),
    ] = False,
    status: Status = None,
    min_score: MinScore = None,
    tasks_dir: TasksDir = None,
) -> None:
    """Runs as chat transcripts for supervised fine-tuning: one row per run (or per step).

    Each row is the conversation in the OpenAI messages format (system, user, assistant with
    tool_calls, tool results) with the run's task, model, seed, exit status, scores and
    integrity block as metadata. Replayed runs (no model) come out as the research agent's
    text protocol, marked transcript=replay; MLGym runs as the chat MLGym sent.

    Examples:

      rgym export sft runs/ --out sft.jsonl --status submitted --min-score 0.5

      rgym export sft runs/ --out sft.jsonl --format trl --per-step

      rgym export sft runs/ --out sft.parquet --format verl

      rgym export sft MLGym/trajectories/ --out mlgym.jsonl
    """
    _run(
        "sft",
        runs,
        out,
        fmt=fmt,
        per_step=per_step,
        statuses=_statuses(status),
        min_score=min_score,
        tasks_dirs=tasks_dir or [],
    )


@export_app.command("rl")
def rl_cmd(
    runs: Runs,
    out: Out,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="episodes ((observation, action, reward) steps), trl (GRPO prompts with the "
            "recorded reward) or verl (verl's RL parquet).",
        ),
    ] = "episodes",
    status: Status = None,
    min_score: MinScore = None,
    tasks_dir: TasksDir = None,
) -> None:
    """Runs as RL episodes: (observation, action, reward) steps and the terminal reward.

    For offline RL or reward-model training (episodes), or as the prompts an online RL trainer
    starts from (trl, verl), with the recorded reward and exit status. The reward is the
    env's: 0 on each step and, on the last, the normalised test score (0 = baseline, 1 =
    reference), or -1 for a submission that could not be scored. Runs never scored
    (interrupted) and MLGym runs (no reward) are left out.

    Examples:

      rgym export rl runs/ --out episodes.jsonl

      rgym export rl runs/ --out grpo.jsonl --format trl --status submitted,auto_submitted

      rgym export rl runs/ --out train.parquet --format verl
    """
    _run(
        "rl",
        runs,
        out,
        fmt=fmt,
        statuses=_statuses(status),
        min_score=min_score,
        tasks_dirs=tasks_dir or [],
    )
