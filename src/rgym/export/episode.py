"""An rgym run folder read back as an episode: its turns in order, each with the reply that
chose the action, what the env answered and what the ledger had spent by then.

Pairing is by order, not by step number: a memory command (carried out by the agent, on the
host) counts a step the env does not, so after one the two numberings differ.

A run recorded since the agent records what it sends also keeps, in order, the events its
transcript is read from exactly (`chat`: message, context_fit and model_call events).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgym.env import FAILED_SUBMISSION_REWARD
from rgym.runs.record import iter_events

CHAT_EVENTS = ("message", "context_fit", "model_call")
"""The events a recorded transcript is read from (rgym.export.recorded)."""


class UnreadableRun(ValueError):
    """A run folder that cannot be exported; the message names the file and what is wrong."""


@dataclass
class Spent:
    """What the ledger had summed when a prompt was built (the footer's budget lines)."""

    tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class Query:
    """A model call's first attempt (retries resend the same prompt)."""

    started: float
    """When it was sent: the footers of its prompt were rendered just before."""
    spent: Spent
    actions: int
    """Actions taken before it."""


@dataclass
class Turn:
    """One action of the episode and what surrounds it."""

    action: str
    thought: str = ""
    reply: dict[str, Any] | None = None
    """The model_call event whose reply became this action (None: a replayed action)."""
    reask: tuple[dict[str, Any], dict[str, Any]] | None = None
    """(the unusable model_call, its format_error event) that the accepted reply followed."""
    observation: str | None = None
    """The observation event's text (None for validate/submit, which write none)."""
    host: bool = False
    """A memory command the agent carried out itself (the env never saw it)."""
    validation: dict[str, Any] | None = None
    """The dev evaluation event of a graded `validate`."""
    ended: float | None = None
    """Time of the turn's last event (its action, observation or evaluation)."""

    @property
    def is_validate(self) -> bool:
        return self.action.strip() == "validate"


@dataclass
class Episode:
    run_dir: Path
    manifest: dict[str, Any]
    result: dict[str, Any]
    turns: list[Turn] = field(default_factory=list)
    started: float | None = None
    """Time of the reset event: the wall-clock budget counts from about here."""
    queries: list[Query] = field(default_factory=list)
    test_grade: dict[str, Any] | None = None
    """The test evaluation event (None: the episode was never scored)."""
    chat: list[dict[str, Any]] = field(default_factory=list)
    """The message, context_fit and model_call events, in order."""

    @property
    def recorded(self) -> bool:
        """Whether the record holds the messages the model was sent (`message` events: runs
        made since the agent records them); older runs' prompts can only be rebuilt."""
        return any(ev.get("type") == "message" for ev in self.chat)

    @property
    def run_id(self) -> str:
        return str(self.result.get("run_id") or self.manifest.get("run_id") or self.run_dir.name)

    @property
    def config(self) -> dict[str, Any]:
        config = self.manifest.get("config")
        return config if isinstance(config, dict) else {}

    @property
    def agent_options(self) -> dict[str, Any]:
        options = self.config.get("agent_options")
        return options if isinstance(options, dict) else {}

    @property
    def tasks_dirs(self) -> list[Path]:
        dirs = self.config.get("tasks_dirs")
        return [Path(d) for d in dirs if isinstance(d, str)] if isinstance(dirs, list) else []

    @property
    def by_model(self) -> bool:
        """Whether a model chose the actions (else they were replayed)."""
        return self.manifest.get("agent") == "default" or any(t.reply for t in self.turns)

    @property
    def terminal_reward(self) -> float | None:
        """The env's reward at the episode's end: the normalised test score (0 when the task
        has no reference to normalise by), -1 for a submission that could not be scored, None
        when the episode was never graded (interrupted, or crashed before its end)."""
        if self.test_grade is None:
            return None
        if self.test_grade.get("status") != "ok":
            return FAILED_SUBMISSION_REWARD
        norm = number(self.result.get("normalised_score"))
        return norm if norm is not None else 0.0


def number(value: Any) -> float | None:
    """A finite float from a JSON value (bools, strings, NaN: None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnreadableRun(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UnreadableRun(f"{path}: not readable JSON ({e})") from None
    if not isinstance(data, dict):
        raise UnreadableRun(f"{path}: expected a JSON object")
    return data


def read_episode(run_dir: Path, result: dict[str, Any] | None = None) -> Episode:
    """Read a finished rgym run folder (`result`: its result.json, when already read).

    Raises:
        UnreadableRun: manifest.json, result.json or events.jsonl is missing or malformed.
    """
    run_dir = Path(run_dir)
    manifest = load_json(run_dir / "manifest.json")
    result = result if result is not None else load_json(run_dir / "result.json")
    events_file = run_dir / "events.jsonl"
    if not events_file.is_file():
        raise UnreadableRun(f"{events_file} is missing")
    episode, state = Episode(run_dir, manifest, result), _State()
    try:
        for ev in iter_events(events_file):
            if isinstance(ev, dict):
                _take(episode, state, ev, events_file)
    except (OSError, UnicodeDecodeError) as e:
        raise UnreadableRun(f"{events_file}: not readable ({e})") from None
    return episode


class _State:
    """What the event walk carries from one event to the next."""

    def __init__(self) -> None:
        self.spent = Spent()
        self.thought = ""
        self.accepted: dict[str, Any] | None = None
        """The last usable reply since the last action."""
        self.reask: tuple[dict[str, Any], dict[str, Any]] | None = None
        self.last_ok: dict[str, Any] | None = None


def _take(episode: Episode, st: _State, ev: dict[str, Any], events_file: Path) -> None:
    kind = ev.get("type")
    if kind in CHAT_EVENTS:
        episode.chat.append(ev)
    if kind == "reset" and episode.started is None:
        episode.started = number(ev.get("time"))
    elif kind == "model_call":
        if ev.get("attempt", 1) == 1:
            sent = (number(ev.get("time")) or 0.0) - (number(ev.get("latency_s")) or 0.0)
            spent = Spent(st.spent.tokens, st.spent.cost_usd)
            episode.queries.append(Query(sent, spent, len(episode.turns)))
        st.spent.tokens += int(ev.get("prompt_tokens") or 0) + int(ev.get("completion_tokens") or 0)
        st.spent.cost_usd += number(ev.get("cost_usd")) or 0.0
        if ev.get("outcome") == "ok":
            st.accepted = st.last_ok = ev
    elif kind == "format_error":
        if st.last_ok is not None:
            st.reask = (st.last_ok, ev)
        st.accepted = None
    elif kind == "thought":
        st.thought = str(ev.get("thought") or "")
    elif kind == "action":
        action = ev.get("action")
        if not isinstance(action, str):
            raise UnreadableRun(f"{events_file}: action event {ev.get('seq')} has no action text")
        reask = st.reask if st.accepted is not None else None
        turn = Turn(action, st.thought, st.accepted, reask, host=bool(ev.get("host")))
        turn.ended = number(ev.get("time"))
        episode.turns.append(turn)
        st.thought, st.accepted, st.reask = "", None, None
    elif kind == "observation" and episode.turns:
        episode.turns[-1].observation = str(ev.get("observation") or "")
        episode.turns[-1].ended = number(ev.get("time"))
    elif kind == "evaluation":
        if ev.get("split") == "test":
            episode.test_grade = ev
        elif episode.turns:
            episode.turns[-1].validation = ev
            episode.turns[-1].ended = number(ev.get("time"))


def validation_text(event: dict[str, Any] | None, left: int, budget: int) -> str:
    """What `validate` answered, in env._validate's words: from its evaluation event, or, with
    none (the budget was spent), the refusal."""
    if event is None:
        return f"No validations left (budget {budget}). Keep working, then `submit`."
    if event.get("status") != "ok":
        return (
            f"Validation failed ({event.get('status')}): {event.get('message', '')}\n"
            f"({left} validations left)"
        )
    metrics = event.get("metrics") if isinstance(event.get("metrics"), dict) else {}
    shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if number(v) is not None)
    return f"Dev split: {shown}. ({left} validations left)"


def env_observations(episode: Episode, max_validations: int) -> list[str]:
    """What env.step returned for each turn: its observation event's text, or for `validate`
    (which writes none) the answer rebuilt from its evaluation event. The final turn's answer
    (`submit`'s, never shown to the agent) is '' when no event holds it."""
    out: list[str] = []
    graded = 0
    for turn in episode.turns:
        if turn.is_validate and turn.observation is None:
            graded += turn.validation is not None
            left = max_validations - graded
            out.append(validation_text(turn.validation, left, max_validations))
        else:
            out.append(turn.observation if turn.observation is not None else "")
    return out
