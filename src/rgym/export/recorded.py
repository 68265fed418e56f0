"""A research-agent run's transcript read back from its record, exactly as its model saw it.

Since the agent records what it sends (rgym.agent.loop), every message it added to its history
or to a re-ask is a `message` event holding the message as sent: the system prompt (with the
tool schemas sent beside every request), the task, each observation with its footer (open file,
working directory, wall-clock as the model read them), the unusable reply shown back in a re-ask
and the reason. A reply's event holds only what the agent added to the model's reply (the tool
call's id as sent); its text comes from the `model_call` event just before it, through the
agent's own `assistant_message` and `unusable_reply`.

Per step, the prompt is the agent's `History` as that request sent it: elided to
`history_keep`, or, where a `context_fit` event precedes the request, cut as that event says
(fewer outputs in full, oldest steps left out, the latest output cut), then the re-ask pair
when the reply answered one. Texts are cut to the export's cap only after the view is built, so
elision notes count the lines the agent counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rgym.agent.config import AgentConfig
from rgym.agent.history import Fit, History
from rgym.agent.loop import unusable_reply
from rgym.agent.parsing import assistant_message
from rgym.export.episode import Episode, UnreadableRun
from rgym.export.texts import Capper
from rgym.export.transcript import Conversation, capped_message, response_of

MESSAGE_KEYS = ("role", "content", "tool_call_id", "name")
"""The fields of a `message` event that are the message's own (the rest describe it)."""


def message_of(ev: dict[str, Any], where: str) -> dict[str, Any]:
    """The message a (non-reply) `message` event recorded, its fields in the order sent."""
    message = {k: v for k, v in ev.items() if k in MESSAGE_KEYS}
    if not isinstance(message.get("role"), str):
        raise UnreadableRun(f"{where}: message event {ev.get('seq')} has no role")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise UnreadableRun(f"{where}: message event {ev.get('seq')}: content is not text")
    return message


def opening(episode: Episode) -> list[dict[str, Any]]:
    """The recorded system prompt and task message (what every request started with)."""
    where = str(episode.run_dir / "events.jsonl")
    return [
        message_of(ev, where)
        for ev in episode.chat
        if ev.get("type") == "message" and ev.get("kind") in ("system", "task")
    ][:2]


@dataclass
class _Walk:
    """What the walk over the chat events carries from one to the next."""

    history: History
    cap: Capper
    per_step: bool
    where: str
    whole: list[dict[str, Any]] = field(default_factory=list)
    """Every history message as the agent added it (uncapped)."""
    capped: dict[int, dict[str, Any]] = field(default_factory=dict)
    """id(history message) -> the message cut to the export's cap, made once."""
    steps: list[tuple[list[dict[str, Any]], dict[str, Any]]] = field(default_factory=list)
    reask: list[dict[str, Any]] = field(default_factory=list)
    """The unusable reply and the reason since the last history message (sent after it)."""
    answered: dict[str, Any] | None = None
    """The last model_call with a reply."""
    fit_next: Fit | None = None
    """From a context_fit event: the fit of the next request."""
    fit: Fit | None = None
    """The fit of the last request (None: elided to history_keep only)."""
    tools: list[dict[str, Any]] | None = None

    def cut(self, message: dict[str, Any]) -> dict[str, Any]:
        out = self.capped.get(id(message))
        return out if out is not None else capped_message(message, self.cap)

    def add(self, kind: str, message: dict[str, Any]) -> None:
        self.history.add(kind, message)
        self.whole.append(message)
        self.capped[id(message)] = capped_message(message, self.cap)
        self.reask = []

    def reply_of(self, ev: dict[str, Any]) -> dict[str, Any]:
        """The reply a `reply` event names: its model_call's, with the tool call's id as sent."""
        if self.answered is None:
            raise UnreadableRun(
                f"{self.where}: message event {ev.get('seq')} (a reply) follows no model call "
                "that was answered"
            )
        resp = response_of(self.answered)
        call_id = ev.get("tool_call_id")
        if call_id is None:
            return assistant_message(resp, False, "")
        if not resp.tool_calls or resp.tool_calls[0].name != ev.get("name"):
            raise UnreadableRun(
                f"{self.where}: message event {ev.get('seq')} names tool {ev.get('name')!r}, "
                f"but the model call before it (event {self.answered.get('seq')}) did not call it"
            )
        reply = assistant_message(resp, True, str(call_id))
        reply["tool_calls"][0]["id"] = call_id  # as sent (the agent's own id when it had none)
        return reply

    def take(self, ev: dict[str, Any]) -> None:
        kind = ev.get("type")
        if kind == "context_fit":
            self.fit_next = Fit(int(ev["keep"]), int(ev["dropped"]), int(ev["cut"]))
        elif kind == "model_call":
            if ev.get("attempt", 1) == 1:  # a retry resends the same prompt
                self.fit, self.fit_next = self.fit_next, None
            if ev.get("outcome") == "ok":
                self.answered = ev
        elif kind == "message":
            self.take_message(ev)

    def take_message(self, ev: dict[str, Any]) -> None:
        kind = ev.get("kind")
        if kind == "unusable_reply":
            if self.answered is None:
                raise UnreadableRun(
                    f"{self.where}: message event {ev.get('seq')} (an unusable reply) follows "
                    "no model call that was answered"
                )
            self.reask = [unusable_reply(str(self.answered.get("content") or ""))]
        elif kind == "format_error":
            self.reask = [*self.reask, message_of(ev, self.where)]
        elif kind == "reply":
            reply = self.reply_of(ev)
            prompt = (
                [self.cut(m) for m in [*self.history.view(self.fit), *self.reask]]
                if self.per_step
                else []
            )
            self.add("reply", reply)
            self.steps.append((prompt, self.capped[id(reply)]))
        else:
            if kind == "system" and isinstance(ev.get("tools"), list):
                self.tools = ev["tools"]
            self.add(str(kind), message_of(ev, self.where))


def recorded_conversation(
    episode: Episode, config: AgentConfig, cap: Capper, per_step: bool = False
) -> Conversation:
    """The conversation of a run whose record holds its messages (see the module docstring).

    Raises:
        UnreadableRun: a reply's event does not match the model call before it.
    """
    walk = _Walk(History(config.history_keep), cap, per_step, str(episode.run_dir / "events.jsonl"))
    for ev in episode.chat:
        walk.take(ev)
    last = max((i for i, m in enumerate(walk.whole) if m["role"] == "assistant"), default=-1)
    messages = [walk.capped[id(m)] for m in walk.whole[: last + 1]]  # nothing answered the rest
    return Conversation(
        messages, walk.steps, tools=walk.tools, kind="recorded", protocol=config.protocol
    )
