"""The batch's live view: runs queued, running, done and failed, the best score so far per
task, dollars and tokens, and an ETA. A rich Live panel on a terminal; plain lines otherwise
(a pipe, a log file, CI), one per run that ends and one for each notable event."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

SCORED = ("submitted", "auto_submitted")


@dataclass
class Tally:
    """What the batch has done so far; the driver keeps it, the view shows it."""

    total: int
    directions: dict[str, str] = field(default_factory=dict)
    """Each task's metric direction (max or min), by the task label progress shows."""
    queued: int = 0
    running: int = 0
    done: int = 0
    """Cells with a scored record (submitted or auto-submitted)."""
    failed: int = 0
    """Cells whose final record is a failure (the agent's, or infra after its retries)."""
    interrupted: int = 0
    retried: int = 0
    skipped: int = 0
    """Cells not started this time (a batch limit, or a stop)."""
    cost_usd: float = 0.0
    tokens: int = 0
    best: dict[str, float] = field(default_factory=dict)
    runs_per_task: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    ended_now: int = 0
    """Runs that ended in this invocation (the ETA's rate)."""
    note: str = ""

    def count_final(self, task: str, status: str | None, score: float | None) -> None:
        if status in SCORED:
            self.done += 1
        else:
            self.failed += 1
        self.runs_per_task[task] = self.runs_per_task.get(task, 0) + 1
        if score is None:
            return
        sign = -1.0 if self.directions.get(task) == "min" else 1.0
        if task not in self.best or sign * score > sign * self.best[task]:
            self.best[task] = score

    def eta_seconds(self) -> float | None:
        remaining = self.queued + self.running
        if not self.ended_now or not remaining:
            return None
        return (time.monotonic() - self.started) / self.ended_now * remaining

    def line(self) -> str:
        eta = self.eta_seconds()
        parts = [
            f"queued {self.queued}",
            f"running {self.running}",
            f"done {self.done}",
            f"failed {self.failed}",
        ]
        if self.retried:
            parts.append(f"retried {self.retried}")
        if self.interrupted:
            parts.append(f"interrupted {self.interrupted}")
        if self.skipped:
            parts.append(f"skipped {self.skipped}")
        parts.append(f"${self.cost_usd:.2f}")
        parts.append(f"{self.tokens:,} tokens")
        parts.append(f"ETA {_duration(eta)}" if eta is not None else "ETA —")
        return " · ".join(parts)


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class BatchProgress:
    """Shows a Tally as it changes; `quiet` shows only notable events (errors, limits)."""

    def __init__(self, tally: Tally | None = None, *, console: Any = None, quiet: bool = False):
        from rich.console import Console

        self.tally = tally if tally is not None else Tally(total=0)
        """The driver hands its own Tally over when the batch is planned."""
        self.console = console if console is not None else Console()
        self.quiet = quiet
        self.live_mode = self.console.is_terminal and not quiet
        self._live: Any = None

    def __enter__(self) -> BatchProgress:
        if self.live_mode:
            from rich.live import Live

            self._live = Live(
                self._render(), console=self.console, refresh_per_second=4, transient=False
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(*exc)
            self._live = None

    def run_ended(self, cell: str, status: str, score: float | None, seconds: float) -> None:
        """A run ended (finished, failed, interrupted or retried)."""
        if self.quiet:
            return
        score_text = f" score {score:.4g}" if score is not None else ""
        self._say(f"{cell}: {status}{score_text} ({seconds:.1f} s)", with_tally=not self.live_mode)

    def event(self, text: str) -> None:
        """Something the user should see even when quiet (a retry, a limit, a stop)."""
        self._say(text, with_tally=False)

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def _say(self, text: str, *, with_tally: bool) -> None:
        line = f"{text}  [{self.tally.line()}]" if with_tally else text
        if self.live_mode:
            self.console.print(line, markup=False, highlight=False)
        else:
            print(line, flush=True)
        self.refresh()

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        t = self.tally
        table = Table(box=None, pad_edge=False, show_edge=False)
        table.add_column("task")
        table.add_column("runs", justify="right")
        table.add_column("best test score", justify="right")
        for task in sorted(t.directions):
            best = t.best.get(task)
            arrow = "↓" if t.directions[task] == "min" else "↑"
            table.add_row(
                task,
                str(t.runs_per_task.get(task, 0)),
                f"{best:.4g} {arrow}" if best is not None else "—",
            )
        header = Text(f"rgym batch · {t.total} runs · {t.line()}", style="bold")
        parts: list[Any] = [header, table]
        if t.note:
            parts.append(Text(t.note, style="yellow"))
        return Group(*parts)
