"""The default research agent: query -> parse -> execute -> record, until the episode ends.

Each turn the history is fitted to the context window, the ledger checks that the call's worst
case fits every budget (and refuses it if not), the reply is parsed into one action (an unusable
reply is re-asked with the reason, up to `max_reasks` times in a row), and the action goes to
the env (or, for memory commands, to the host-side memory). Budgets the env does not track
(tokens, cost, a wall clock that runs out during a model call), unusable replies, a failing model
and a context that cannot fit all end the episode through `env.exhaust(<kind>)`, so the artefact
is scored and the exit status says why (`auto_submitted:cost`, `...:format_error`, ...).

Every message the model is sent is recorded as it is sent, so a run's transcript can be read
back exactly (`rgym export`): a `message` event each time one is added to the history (system
prompt, task, reply, observation with its footer) or to a re-ask (the unusable reply, the reason),
and a `context_fit` event before a request whose history had to be cut further than
`history_keep` to fit the context window (`History.view` shows that request again). A reply's
text is its `model_call` event's; its `message` event holds what the agent added (the tool call's
id as sent).
"""

from __future__ import annotations

import time
from typing import Any

from rgym.agent import state
from rgym.agent.base import AgentStats, StepCallback
from rgym.agent.config import DEFAULT_CONTEXT_WINDOW, AgentConfig
from rgym.agent.history import ContextOverflow, Fit, History, truncate
from rgym.agent.memory import MemoryStore
from rgym.agent.parsing import (
    FormatError,
    assistant_message,
    observation_message,
    parse_text,
    parse_tool_calls,
)
from rgym.agent.prompts import Prompts
from rgym.agent.tools import by_name, install, openai_tools, tools_dir
from rgym.budget import Budget
from rgym.errors import BudgetExceeded
from rgym.models.base import Model, ModelError
from rgym.models.ledger import Ledger

INSTALLED = "the env was made without the agent's tool_dirs; the tools were installed into it"
REPLY_KINDS = ("reply", "unusable_reply")
"""Messages whose text is the model's (its model_call event holds it)."""


def unusable_reply(content: str) -> dict[str, Any]:
    """An unusable reply as the re-ask shows it back to the model (its text, no tool calls)."""
    return {"role": "assistant", "content": content or "(a tool call)"}


class DefaultAgent:
    name = "default"

    def __init__(self, model: Model, config: AgentConfig | None = None) -> None:
        self.model, self.config = model, config or AgentConfig()
        self.model_name = model.name
        self.specs = by_name(memory=self.config.memory)
        self.markers = {s.name: s.end_marker for s in self.specs.values() if s.end_marker}
        self.tools = openai_tools(self.specs) if self.config.protocol == "tools" else None
        self.tool_dirs = [tools_dir(self.config.window)]
        """Pass to ResearchEnv(tool_dirs=...) so the sandbox has the tools from the start."""
        self.prompts = Prompts(self.config.templates_dir)
        self.ledger = Ledger(Budget())

    @property
    def stats(self) -> AgentStats:
        """What was spent so far: the sums of the run's model_call events."""
        return AgentStats(**self.ledger.totals())

    def run(
        self, env, observation: str, info: dict[str, Any], *, on_step: StepCallback | None = None
    ) -> AgentStats:
        self.env, self.on_step, self.done, self.host_steps, self.cap = env, on_step, False, 0, None
        self.sink = env.record.event if getattr(env, "record", None) is not None else None
        timings = getattr(env, "timings", None) or {}  # the clock started at reset, not here
        wall, used = env.budget.max_wall_seconds, timings.get("wall_seconds") or 0
        deadline = time.monotonic() + wall - used if wall else None
        self.ledger = Ledger(env.budget, self.sink, retry=self.config.retry, deadline=deadline)
        self.memory = MemoryStore.for_env(env) if self.config.memory else None
        if getattr(env, "sandbox", None) is not None and install(env, self.tool_dirs[0]):
            self.event("note", message=INSTALLED)
        if getattr(self.model, "price_note", ""):
            self.event("note", message=self.model.price_note)
        c, limits = self.config, getattr(getattr(env, "variant", None), "limits", None)
        self.history = History(c.history_keep, self.model.count_tokens)
        self.remember(
            "system",
            0,
            self.prompts.system(c, self.specs, getattr(limits, "command_timeout", 0)),
            tools=self.tools,
        )
        self.remember(
            "task", 0, self.prompts.message("user", "task", task=observation, **self.footer())
        )
        while not self.done:
            self.step()
        return self.stats

    def step(self) -> None:
        got = self.query()
        if got is None:
            return
        thought, action, reply = got
        step = self.env.steps + self.host_steps + 1
        self.remember("reply", step, reply)
        if thought:
            self.event("thought", step=step, thought=thought)
        out = self.memory.run(action) if self.memory is not None else None
        if out is not None:  # memory lives on the host, not in the sandbox
            self.host_steps += 1
            self.event("action", step=step, action=action, host=True)
            self.event("observation", step=step, observation=out, host=True)
            obs, terminated, truncated, info = out, False, False, {}
        else:
            obs, _, terminated, truncated, info = self.env.step(action)
        if self.on_step:
            self.on_step(step, action, obs, info)
        if terminated or truncated:
            self.done = True
            return
        obs = truncate(obs, self.config.max_observation_chars)
        text = self.prompts.render("next_step", observation=obs, **self.footer())
        self.remember("observation", step, observation_message(text, reply))

    def query(self) -> tuple[str, str, dict[str, Any]] | None:
        """The next (thought, action, reply message), or None when the episode has ended."""
        extra: list[dict[str, Any]] = []  # a re-ask: the bad reply and why; never kept
        reasks = shrinks = 0
        while True:
            steps = self.env.steps + self.host_steps
            kind = self.ledger.exhausted() or (
                "steps" if steps >= self.env.budget.max_steps else None
            )
            if kind:
                return self.stop(kind)
            try:
                limit = self.prompt_limit()
                messages, tokens, fit = self.history.fit(limit)
            except ContextOverflow as e:
                return self.stop("context", str(e))
            if fit != self.history.unfitted:
                self.event_fit(steps + 1, fit, tokens, limit)
            tokens += sum(self.history.tokens(m) for m in extra)
            try:
                resp = self.ledger.query(
                    self.model,
                    messages + extra,
                    self.tools,
                    step=steps + 1,
                    prompt_tokens=tokens,
                    purpose="reask" if extra else "action",
                )
            except BudgetExceeded as e:
                return self.stop(e.kind)
            except ModelError as e:
                if e.kind == "context_window" and shrinks < 3:  # the server knows better
                    shrinks, self.cap = shrinks + 1, int(tokens * 0.7)
                    continue
                return self.stop("model_error", str(e))
            try:
                thought, action = (
                    parse_tool_calls(resp, self.specs)
                    if self.tools
                    else parse_text(resp.content, self.markers)
                )
                return (
                    thought,
                    action,
                    assistant_message(resp, bool(self.tools), f"call_{steps + 1}"),
                )
            except FormatError as e:
                self.event("format_error", step=steps + 1, reason=str(e), reask=reasks + 1)
                if reasks >= self.config.max_reasks:
                    return self.stop(
                        "format_error", f"{reasks + 1} unusable replies in a row; the last: {e}"
                    )
                reasks += 1
                extra = [
                    unusable_reply(resp.content),
                    self.prompts.message(
                        "user",
                        "format_error",
                        reason=str(e),
                        protocol=self.config.protocol,
                        left=self.config.max_reasks - reasks + 1,
                    ),
                ]
                self.record_message("unusable_reply", steps + 1, extra[0])
                self.record_message("format_error", steps + 1, extra[1])

    def stop(self, kind: str, message: str = "") -> None:
        """End the episode for `kind`; the env submits and scores the artefact."""
        if message:
            self.event("error", kind=kind, message=message)
        self.env.exhaust(kind)
        self.done = True

    def prompt_limit(self) -> int:
        window = self.config.context_window or self.model.context_window or DEFAULT_CONTEXT_WINDOW
        limit = window - min(self.model.max_output_tokens, window // 4)
        return min(limit, self.cap) if self.cap else limit

    def footer(self) -> dict[str, Any]:
        step = self.env.steps + self.host_steps
        values = state.footer(self.env, self.ledger.remaining(), step)
        return {"open_file": None, "cwd": None, **values, **state.probe(self.env)}

    def remember(
        self, kind: str, step: int, message: dict[str, Any], tools: list | None = None
    ) -> None:
        """Add `message` to the history, and to the record as sent."""
        self.history.add(kind, message)
        self.record_message(kind, step, message, tools)

    def record_message(
        self, kind: str, step: int, message: dict[str, Any], tools: list | None = None
    ) -> None:
        """A `message` event: the message as sent, but for the model's own text (a reply's
        event holds its role and, for a tool call, the call's id and name as sent). `tools`:
        the tool schemas sent beside the messages, recorded once, with the system prompt."""
        fields = dict(message)
        if kind in REPLY_KINDS:
            calls = message.get("tool_calls") or []
            fields = {"role": message["role"]}
            if calls:
                fields |= {"tool_call_id": calls[0]["id"], "name": calls[0]["function"]["name"]}
        if tools:
            fields["tools"] = tools
        self.event("message", kind=kind, step=step, **fields)

    def event_fit(self, step: int, fit: Fit, tokens: int, limit: int) -> None:
        """A `context_fit` event: the next request's history was cut beyond `history_keep`."""
        self.event(
            "context_fit",
            step=step,
            keep=fit.keep,
            dropped=fit.dropped,
            cut=fit.cut,
            prompt_tokens=tokens,
            limit=limit,
        )

    def event(self, type_: str, **data: Any) -> None:
        if self.sink is not None:
            self.sink(type_, **data)
