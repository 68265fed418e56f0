"""A run's events shaped for reading: steps, long outputs folded, and the series behind the
score and budget charts.

Every event becomes an :class:`EventView` (a label, a few facts, and its texts, each with a role
saying how to show it). The page template and the live updates in the browser both draw that
same shape, so an event looks the same whether it was there when the page loaded or arrived
while it was open. Pages hold :data:`STEPS_PER_PAGE` steps: a long run is read a page at a time
(the charts still cover all of it, built in the same single pass over events.jsonl).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgym.viewer import safe_files

STEPS_PER_PAGE = 200
HEAD_LINES = 15
TAIL_LINES = 15
FOLD_LINES = 40
FOLD_CHARS = 4000
FULL_CHARS = 100_000
"""The most of one text a page carries; beyond it the middle is cut (the raw file has it)."""


@dataclass
class Text:
    """A text to show: whole when short, else its head and tail with the rest behind a toggle."""

    role: str
    """prose (discussion), code (an action), output (an observation), raw (folded JSON)."""
    full: str
    head: str = ""
    tail: str = ""
    folded: bool = False
    hidden_lines: int = 0
    cut_chars: int = 0
    """Characters cut from the middle of ``full`` (beyond :data:`FULL_CHARS`)."""

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def fold(text: Any, role: str) -> Text:
    """Fold a long text to its head and tail; raw texts are always folded."""
    text = text if isinstance(text, str) else json.dumps(text, indent=1, default=str)
    cut = 0
    if len(text) > FULL_CHARS:
        cut = len(text) - FULL_CHARS
        half = FULL_CHARS // 2
        text = f"{text[:half]}\n… [{cut:,} characters cut here] …\n{text[-half:]}"
    if role == "raw":
        return Text(role, text, folded=True, cut_chars=cut)
    lines = text.split("\n")
    if len(lines) <= FOLD_LINES and len(text) <= FOLD_CHARS:
        return Text(role, text, cut_chars=cut)
    if len(lines) > FOLD_LINES:
        head, tail = "\n".join(lines[:HEAD_LINES]), "\n".join(lines[-TAIL_LINES:])
        hidden = len(lines) - HEAD_LINES - TAIL_LINES
    else:  # few very long lines: fold by characters
        head, tail = text[: FOLD_CHARS // 2], text[-FOLD_CHARS // 4 :]
        hidden = 0
    return Text(role, text, head, tail, True, hidden, cut)


@dataclass
class EventView:
    """One event, ready to draw."""

    type: str
    seq: int | None
    step: int | None
    t: float | None
    """Seconds since the run's first event."""
    label: str
    level: str | None = None
    """error, warn or ok: how much it should stand out."""
    meta: list[tuple[str, str]] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("texts", "meta")}
        out["meta"] = [list(m) for m in self.meta]
        out["texts"] = [t.to_json() for t in self.texts]
        return out


def num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


def fmt_num(v: Any, digits: int = 4) -> str:
    x = num(v)
    if x is None:
        return "—"
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.{digits}g}"


def fmt_money(v: Any) -> str:
    x = num(v)
    return "—" if x is None else f"${x:.4f}" if x < 100 else f"${x:,.2f}"


def fmt_seconds(v: Any) -> str:
    x = num(v)
    if x is None:
        return "—"
    if x < 60:
        return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"
    m, s = divmod(int(round(x)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def _outcome_level(outcome: str) -> str | None:
    return "ok" if outcome == "ok" else "error" if outcome.startswith("error") else "warn"


def event_view(ev: dict[str, Any], t0: float | None) -> EventView:
    """Shape one events.jsonl record (rgym's event types; anything else shown as JSON)."""
    kind = str(ev.get("type") or "unknown")
    t = num(ev.get("time"))
    seq, step = ev.get("seq"), ev.get("step")
    view = EventView(
        type=kind,
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        step=step if isinstance(step, int) and not isinstance(step, bool) else None,
        t=None if t is None or t0 is None else round(t - t0, 3),
        label=kind.replace("_", " "),
    )
    meta, texts = view.meta, view.texts
    if kind == "thought":
        view.label = "discussion"
        texts.append(fold(ev.get("thought", ""), "prose"))
    elif kind == "action":
        texts.append(fold(ev.get("action", ""), "code"))
        if ev.get("host"):
            meta.append(("ran", "on the host (agent tool)"))
    elif kind == "observation":
        code = ev.get("exit_code")
        if code is not None:
            meta.append(("exit code", str(code)))
            if code not in (0, "0"):
                view.level = "warn"
        if ev.get("timed_out"):
            meta.append(("timed out", "yes"))
            view.level = "error"
        if ev.get("truncated"):
            meta.append(("truncated", "yes"))
        if num(ev.get("seconds")) is not None:
            meta.append(("took", fmt_seconds(ev.get("seconds"))))
        texts.append(fold(ev.get("observation", ""), "output"))
    elif kind == "evaluation":
        split = str(ev.get("split") or "")
        view.label = f"{split} evaluation" if split else "evaluation"
        status = str(ev.get("status") or "")
        meta.append(("score", fmt_num(ev.get("score"), 6)))
        meta.append(("status", status or "—"))
        metrics = ev.get("metrics")
        if isinstance(metrics, dict):
            meta += [(str(k), fmt_num(v, 6)) for k, v in list(metrics.items())[:8]]
        if num(ev.get("seconds")) is not None:
            meta.append(("took", fmt_seconds(ev.get("seconds"))))
        view.level = "ok" if status == "ok" else "error"
        for key in ("message", "detail"):
            if ev.get(key):
                texts.append(fold(ev[key], "output"))
    elif kind == "model_call":
        outcome = str(ev.get("outcome") or "")
        view.label = "model call"
        view.level = _outcome_level(outcome) if outcome else None
        meta += [
            ("model", str(ev.get("model") or "—")),
            (
                "tokens",
                f"{fmt_num(ev.get('prompt_tokens'))} in / "
                f"{fmt_num(ev.get('completion_tokens'))} out",
            ),
            ("cost", fmt_money(ev.get("cost_usd"))),
            ("latency", fmt_seconds(ev.get("latency_s"))),
            ("outcome", outcome or "—"),
        ]
        if isinstance(ev.get("attempt"), int) and ev["attempt"] > 1:
            meta.append(("attempt", str(ev["attempt"])))
        if ev.get("error"):
            texts.append(fold(ev["error"], "output"))
        if ev.get("content") or ev.get("tool_calls"):
            reply = ev.get("content") or ""
            if ev.get("tool_calls"):
                reply = f"{reply}\n{json.dumps(ev['tool_calls'], indent=1)}".strip()
            texts.append(fold(reply, "raw"))
    elif kind == "format_error":
        view.label, view.level = "unusable reply", "warn"
        if ev.get("reask") is not None:
            meta.append(("re-ask", str(ev["reask"])))
        texts.append(fold(ev.get("reason", ""), "output"))
    elif kind == "error":
        view.level = "error"
        meta.append(("kind", str(ev.get("kind") or "—")))
        texts.append(fold(ev.get("message", ""), "output"))
        if ev.get("traceback"):
            texts.append(fold(ev["traceback"], "raw"))
        if ev.get("evidence"):
            texts.append(fold(ev["evidence"], "raw"))
    elif kind == "budget":
        view.level = "warn"
        for key in ("kind", "used", "limit"):
            if ev.get(key) is not None:
                meta.append((key, fmt_num(ev[key]) if key != "kind" else str(ev[key])))
        texts.append(fold(ev.get("message", ""), "prose"))
    elif kind == "note":
        texts.append(fold(ev.get("message", ""), "prose"))
    elif kind == "reset":
        view.label = "reset"
        meta += [(k, str(ev[k])) for k in ("seed", "sandbox", "isolated") if k in ev]
        if ev.get("isolated") is False:
            view.level = "error"
            meta.append(("warning", "NO ISOLATION"))
        if num(ev.get("seconds")) is not None:
            meta.append(("took", fmt_seconds(ev.get("seconds"))))
        if isinstance(ev.get("limits_in_force"), dict):
            texts.append(fold(ev["limits_in_force"], "raw"))
    elif kind == "message":  # what the research agent sent the model, exactly
        what = str(ev.get("kind") or "message").replace("_", " ")
        view.label = f"sent to the model: {what}"
        if ev.get("content"):
            texts.append(fold(ev["content"], "raw"))
    elif kind == "context_fit":
        view.label, view.level = "history cut to fit the context window", "warn"
        keys = ("keep", "dropped", "cut", "prompt_tokens", "tokens", "limit")
        meta += [(k, fmt_num(ev[k])) for k in keys if ev.get(k) is not None]
    else:
        rest = {k: v for k, v in ev.items() if k not in ("schema_version", "seq", "time", "type")}
        texts.append(fold(rest, "raw"))
    return view


@dataclass
class Block:
    """Consecutive events of one step (``step`` None: events outside any step)."""

    step: int | None
    events: list[EventView] = field(default_factory=list)

    @property
    def level(self) -> str | None:
        levels = {e.level for e in self.events}
        return "error" if "error" in levels else "warn" if "warn" in levels else None


@dataclass
class Series:
    """What the charts draw: scores over steps and the budget used over time."""

    dev: list[tuple[int | None, float]] = field(default_factory=list)
    test: list[tuple[int | None, float]] = field(default_factory=list)
    t: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    validations: list[int] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    tokens: list[float] = field(default_factory=list)


@dataclass
class Transcript:
    """One page of a run's steps, plus what the whole run adds up to."""

    blocks: list[Block]
    page: int
    pages: int
    n_steps: int
    n_events: int
    last_seq: int
    first_time: float | None
    last_time: float | None
    series: Series
    problems: list[EventView]
    """Errors and warnings anywhere in the run (for the summary at the top)."""
    actions: int = 0
    """Steps taken (the highest step with an action)."""
    cost_usd: float = 0.0
    tokens: float = 0.0
    model_calls: int = 0
    latency_s: float = 0.0
    system_prompt: Text | None = None

    @property
    def live_ok(self) -> bool:
        """Live updates are drawn on the last page only."""
        return self.page == self.pages


def page_of(step: int) -> int:
    return max(1, (step - 1) // STEPS_PER_PAGE + 1)


def read_events(run_dir: Path) -> Iterator[dict[str, Any]]:
    """events.jsonl of an rgym run, opened without following links; torn lines skipped."""
    try:
        with safe_files.open_binary(run_dir, "events.jsonl") as f:
            for line in f:
                try:
                    ev = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue
                if isinstance(ev, dict):
                    yield ev
    except safe_files.OutsideRun:
        return


def build(events: Iterable[dict[str, Any]], page: int = 1) -> Transcript:
    """Fold events into one page of blocks and the whole run's series, in one pass."""
    blocks: list[Block] = []
    series = Series()
    problems: list[EventView] = []
    t0 = t_last = None
    n = last_seq = max_step = acted = validations = model_calls = 0
    cost = tokens = latency = 0.0
    current_step = 0
    for ev in events:
        n += 1
        t = num(ev.get("time"))
        if t is not None:
            t0 = t if t0 is None else t0
            t_last = t
        seq = ev.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            last_seq = max(last_seq, seq)
        kind = ev.get("type")
        step = ev.get("step")
        step = step if isinstance(step, int) and not isinstance(step, bool) else None
        if step is not None:
            current_step = step
            max_step = max(max_step, step)
        changed = False
        if kind == "action":
            acted = max(acted, step or acted + 1)
            changed = True
        elif kind == "evaluation":
            score = num(ev.get("score"))
            if ev.get("split") == "dev":
                validations += 1
                changed = True
                if score is not None:
                    series.dev.append((step, score))
            elif ev.get("split") == "test" and score is not None:
                series.test.append((step, score))
        elif kind == "model_call":
            model_calls += 1
            cost += num(ev.get("cost_usd")) or 0.0
            tokens += (num(ev.get("prompt_tokens")) or 0) + (num(ev.get("completion_tokens")) or 0)
            latency += num(ev.get("latency_s")) or 0.0
            changed = True
        if changed and t is not None and t0 is not None:
            series.t.append(round(t - t0, 3))
            series.steps.append(acted)
            series.validations.append(validations)
            series.cost.append(round(cost, 6))
            series.tokens.append(tokens)
        on_page = page_of(step if step is not None else max(current_step, 1)) == page
        is_problem = (
            kind in ("error", "budget", "format_error")
            or (kind == "evaluation" and ev.get("status") not in (None, "ok"))
            or (kind == "model_call" and ev.get("outcome") not in (None, "ok"))
        )
        if not on_page and not is_problem:
            continue
        view = event_view(ev, t0)
        if is_problem:
            problems.append(view)
        if not on_page:
            continue
        if blocks and blocks[-1].step == step:
            blocks[-1].events.append(view)
        else:
            blocks.append(Block(step, [view]))
    pages = page_of(max_step) if max_step else 1
    return Transcript(
        blocks=blocks,
        page=page,
        pages=pages,
        n_steps=max_step,
        n_events=n,
        last_seq=last_seq,
        first_time=t0,
        last_time=t_last,
        series=series,
        problems=problems,
        actions=acted,
        cost_usd=cost,
        tokens=tokens,
        model_calls=model_calls,
        latency_s=latency,
    )


def rgym_transcript(run_dir: Path, page: int = 1) -> Transcript:
    """The run's transcript; a recorded system prompt is shown once, as the system prompt."""
    events = list(read_events(run_dir))
    system = next(
        (e for e in events if e.get("type") == "message" and e.get("kind") == "system"), None
    )
    if system is not None:
        events = [e for e in events if e is not system]
    transcript = build(events, page)
    if system is not None and system.get("content"):
        transcript.system_prompt = fold(system["content"], "raw")
    return transcript


# --- MLGym ---------------------------------------------------------------------------------------


def mlgym_events(traj: dict[str, Any], metric: str | None) -> list[dict[str, Any]]:
    """An MLGym trajectory as rgym-shaped events: each step's discussion, action, observation,
    and, on `validate`/`submit` steps, the recorded scores (in order, as MLGym stored them)."""
    steps = traj.get("trajectory") if isinstance(traj.get("trajectory"), list) else []
    info = traj.get("info") if isinstance(traj.get("info"), dict) else {}
    scores = [s for s in info.get("score") or [] if isinstance(s, dict)]
    out: list[dict[str, Any]] = []
    seq = 0

    def add(**ev: Any) -> None:
        nonlocal seq
        seq += 1
        out.append({"seq": seq, **ev})

    history = traj.get("history") if isinstance(traj.get("history"), list) else []
    system = next((m for m in history if isinstance(m, dict) and m.get("role") == "system"), None)
    if system and system.get("content"):
        add(
            type="note",
            message="system prompt (from the trajectory's history)",
            system_prompt=system.get("content"),
        )
    score_i = 0
    for n, step in enumerate(steps, 1):
        if not isinstance(step, dict):
            continue
        if step.get("thought"):
            add(type="thought", step=n, thought=step["thought"])
        action = step.get("action") if isinstance(step.get("action"), str) else ""
        add(type="action", step=n, action=action)
        add(
            type="observation",
            step=n,
            observation=step.get("observation") or "",
            seconds=step.get("execution_time"),
        )
        first = action.strip().split(maxsplit=1)[0] if action.strip() else ""
        if first in ("validate", "submit") and score_i < len(scores):
            entry = scores[score_i]
            score_i += 1
            add(
                type="evaluation",
                step=n,
                split="dev" if first == "validate" else "test",
                status="ok",
                score=entry.get(metric) if metric else None,
                metrics=entry,
            )
    exit_status = info.get("exit_status")
    if exit_status:
        add(type="note", message=f"MLGym exit status: {exit_status}")
    return out


def mlgym_transcript(traj: dict[str, Any], metric: str | None, page: int = 1) -> Transcript:
    events = mlgym_events(traj, metric)
    system = None
    if events and "system_prompt" in events[0]:
        system = fold(events[0].pop("system_prompt"), "raw")
    transcript = build(events, page)
    transcript.system_prompt = system
    return transcript
