"""`rgym export sft|rl` as plain functions: find runs, pick them, turn each into rows, write.

A run that cannot be read is skipped with a warning naming its folder; the export fails (and
writes nothing) only when its options are wrong or no run is left to export.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rgym.agent.config import AgentConfig
from rgym.errors import RgymError
from rgym.export.episode import Episode, Spent, UnreadableRun, env_observations, read_episode
from rgym.export.formats import PARQUET_ONLY, RL_FORMATS, SFT_FORMATS, rl_row, sft_rows
from rgym.export.rebuild import AgentView, TaskContext, task_context
from rgym.export.recorded import opening, recorded_conversation
from rgym.export.runs import FoundRun, Source, describe, find_runs, why_not
from rgym.export.texts import Capper
from rgym.export.transcript import (
    Conversation,
    agent_conversation,
    mlgym_conversation,
    replay_conversation,
)
from rgym.export.write import RowWriter

Kind = Literal["sft", "rl"]
SUFFIXES = (".jsonl", ".parquet")
LEFT_OUT = {
    "status": "by --status",
    "score": "by --min-score (or without a normalised score)",
    "unscored": "never scored, so without a reward",
    "mlgym": "MLGym runs (no reward rgym can stand behind)",
    "empty": "without a reply to learn from",
}


MALFORMED = (ValueError, KeyError, TypeError, AttributeError, IndexError)
"""What reading a record whose fields have the wrong types or shapes raises."""


class ExportError(RgymError):
    """Bad options, or nothing to export; the message says what to change."""


@dataclass
class ExportOptions:
    kind: Kind
    fmt: str | None = None
    """openai (sft's default), trl or verl; episodes (rl's default), trl or verl."""
    per_step: bool = False
    statuses: list[str] = field(default_factory=list)
    min_score: float | None = None
    tasks_dirs: list[Path] = field(default_factory=list)

    @property
    def format(self) -> str:
        return self.fmt or ("openai" if self.kind == "sft" else "episodes")


@dataclass
class ExportReport:
    out: Path
    rows: int = 0
    runs: int = 0
    found: int = 0
    warnings: list[str] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        parts = [f"{n} {LEFT_OUT[k]}" for k, n in sorted(self.left_out.items())]
        if self.warnings:
            parts.append(f"{len(self.warnings)} unreadable")
        tail = f"; left out: {', '.join(parts)}" if parts else ""
        rows = f"{self.rows} row{'s' * (self.rows != 1)}"
        return f"wrote {rows} from {self.runs} of {self.found} runs to {self.out}{tail}"


def check_options(paths: list[Path], out: Path, opts: ExportOptions) -> None:
    """Raises ExportError for options that cannot work together."""
    formats = SFT_FORMATS if opts.kind == "sft" else RL_FORMATS
    if opts.format not in formats:
        raise ExportError(
            f"--format {opts.format!r} is not a format of `rgym export {opts.kind}`; choose one "
            f"of {', '.join(formats)}"
        )
    if out.suffix not in SUFFIXES:
        raise ExportError(f"--out {out}: name a .jsonl or a .parquet file")
    if opts.format in PARQUET_ONLY and out.suffix != ".parquet":
        raise ExportError(f"--format {opts.format} is read as parquet: name a .parquet --out file")
    if opts.per_step and opts.kind == "sft" and opts.format == "verl":
        raise ExportError(
            "--per-step does not fit --format verl: verl's multi-turn SFT trains on every "
            "assistant turn of a row, so earlier replies would be trained on again; drop "
            "--per-step (one row per run) or use --format trl (prompt and completion)"
        )
    if not paths:
        raise ExportError("give at least one folder of runs")
    for p in paths:
        if not Path(p).exists():
            raise ExportError(f"runs path {str(p)!r} does not exist")
    if out.is_dir():
        raise ExportError(f"--out {out} is a folder; name a file")


def export_runs(
    paths: list[Path],
    out: Path,
    opts: ExportOptions,
    *,
    on_run: Callable[[int, int], None] | None = None,
) -> ExportReport:
    """Export every run under `paths` that the options pick into `out`.

    `on_run(done, total)` is called after each run (for a progress bar).

    Raises:
        ExportError: bad options, no runs found, or none left after the filters.
    """
    out = Path(out)
    check_options(paths, out, opts)
    found = find_runs([Path(p) for p in paths])
    report = ExportReport(out, found=len(found))
    if not found:
        raise ExportError(
            f"no runs under {', '.join(map(str, paths))}: a run is a folder holding result.json "
            "(rgym) or a <task>.traj (MLGym)"
        )
    with RowWriter(out, native=opts.format == "verl") as writer:
        for n, (source, path) in enumerate(found, 1):
            rows = _run_rows(source, path, opts, writer.count, report)
            for row in rows:
                writer.write(row)
            report.runs += bool(rows)
            if on_run:
                on_run(n, len(found))
        report.rows = writer.count
        if not writer.count:
            raise ExportError(_nothing_left(report))
        writer.commit()
    return report


def _nothing_left(report: ExportReport) -> str:
    parts = [f"{n} {LEFT_OUT[k]}" for k, n in sorted(report.left_out.items())]
    if report.warnings:
        parts.append(f"{len(report.warnings)} unreadable ({report.warnings[0]})")
    return (
        f"no run left to export: of {report.found} found, {'; '.join(parts) or 'none matched'}. "
        "Nothing was written."
    )


def _run_rows(
    source: Source, path: Path, opts: ExportOptions, index: int, report: ExportReport
) -> list[dict]:
    """The rows of the run at `path`; none when the filters leave it out or it cannot be read
    (counted, or warned about, in `report`)."""
    try:
        run = describe(source, path)
        reason = why_not(run, opts.statuses, opts.min_score)
        if reason is None:
            return _rows(run, opts, index, report)
        report.left_out[reason] += 1
    except UnreadableRun as e:
        report.warnings.append(f"skipped {path}: {e}")
    except MALFORMED as e:  # a record edited or damaged by hand: a field of the wrong shape
        report.warnings.append(f"skipped {path}: malformed record ({type(e).__name__}: {e})")
    return []


def _rows(run: FoundRun, opts: ExportOptions, index: int, report: ExportReport) -> list[dict]:
    """The rows of one run (empty: left out, the reason counted in `report`)."""
    cap = Capper()
    if run.source == "mlgym":
        if opts.kind == "rl":
            report.left_out["mlgym"] += 1
            return []
        conv = mlgym_conversation(run.raw["history"], cap)
        meta = {**run.meta, "reward": None, "rgym_version": None}
        return _sft(conv, opts, meta, cap, report)
    episode = read_episode(run.path, run.raw)
    meta = {
        **run.meta,
        "reward": episode.terminal_reward,
        "rgym_version": episode.manifest.get("rgym_version"),
    }
    if opts.kind == "sft":
        conv = _conversation(episode, opts, cap)
        return _sft(conv, opts, meta, cap, report)
    if meta["reward"] is None:
        report.left_out["unscored"] += 1
        return []
    task = task_context(episode, opts.tasks_dirs)
    steps = _steps(episode, task, cap)
    first: list[dict[str, Any]] = []
    if opts.format != "episodes":
        first = _opening(episode, task)
        first = [{**m, "content": cap(m["content"])} for m in first]
    meta = {**meta, "transcript": None, "protocol": None, "step": None, "texts_cut": cap.cut}
    return [rl_row(opts.format, index, meta, steps, first, task.family)]


def _opening(episode: Episode, task: TaskContext) -> list[dict[str, Any]]:
    """The research agent's first prompt (system, task) as the run sent it: recorded, or
    rebuilt for older runs and replays."""
    if episode.recorded:
        return opening(episode)
    view = _view(episode, task)
    first = episode.queries[0].started if episode.queries else episode.started
    return [view.system(), view.task_message(first, Spent())]


def _view(episode: Episode, task: TaskContext) -> AgentView:
    """The run's own agent options for a model's run; the research agent's defaults (text
    protocol) for a replayed one."""
    return AgentView(episode.agent_options if episode.by_model else {}, task, episode.started)


def _conversation(episode: Episode, opts: ExportOptions, cap: Capper) -> Conversation:
    """Read back from the record where it holds the messages (the task need not be installed
    here); else rebuilt with the installed templates and the run's task."""
    if episode.recorded:
        return recorded_conversation(episode, _agent_config(episode), cap, opts.per_step)
    task = task_context(episode, opts.tasks_dirs)
    view = _view(episode, task)
    if episode.by_model:
        return agent_conversation(episode, task, view, cap, opts.per_step)
    return replay_conversation(episode, task, view, cap, opts.per_step)


def _agent_config(episode: Episode) -> AgentConfig:
    from rgym.agent.factory import agent_config

    try:
        return agent_config(episode.agent_options)
    except Exception as e:  # options that no longer validate
        raise UnreadableRun(f"its agent options cannot be read ({e})") from None


def _sft(
    conv: Conversation, opts: ExportOptions, meta: dict, cap: Capper, report: ExportReport
) -> list[dict]:
    if not conv.steps:
        report.left_out["empty"] += 1
        return []
    meta = {**meta, "transcript": conv.kind, "protocol": conv.protocol, "texts_cut": cap.cut}
    return list(sft_rows(conv, opts.format, opts.per_step, meta))


def _steps(episode: Episode, task: TaskContext, cap: Capper) -> list[dict[str, Any]]:
    """(observation, action, reward) per action: the observation the action answered (the
    task prompt first), the reward the env gave for it (the terminal reward on the last)."""
    observations = env_observations(episode, task.budget.max_validations or 0)
    reward = episode.terminal_reward
    before = task.prompt
    steps = []
    for n, turn in enumerate(episode.turns, 1):
        last = n == len(episode.turns)
        steps.append(
            {
                "step": n,
                "observation": cap(before),
                "thought": cap(turn.thought),
                "action": cap(turn.action),
                "reward": reward if last else 0.0,
                "done": last,
                "host": turn.host,
            }
        )
        before = observations[n - 1]
    return steps
