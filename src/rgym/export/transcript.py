"""A run as a chat: the messages its model saw and sent, in the OpenAI messages format.

Four kinds, one shape (system, user, assistant, tool messages; tool calls as `tool_calls`):

- `recorded`: a run of rgym's research agent whose record holds every message it sent (runs
  made since the agent records them): read back exactly (rgym.export.recorded).
- `rebuilt`: an older run of rgym's research agent, whose record holds the replies and the raw
  observations but not the prompts around them. Its replies come from the record as the model
  sent them; the prompts around them are rendered again (rgym.export.rebuild). The whole
  conversation keeps every observation as the agent's history kept it; `steps` holds, for each
  reply, the prompt as the agent sent it: older observations elided to `history_keep`, and, for
  a reply that answered a re-ask, the unusable reply and the re-ask message after the history.
- `replay`: a replayed run (no model). Its actions are written as the research agent's text
  protocol would carry them (the thought, then the command in a fenced block), under the
  research agent's default system prompt, so demonstrations train the agent that runs them.
- `mlgym`: an MLGym trajectory's `history`, the chat MLGym sent, as it stored it (its own
  system prompt and demonstrations included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rgym.agent.history import History
from rgym.agent.parsing import assistant_message
from rgym.export.episode import Episode, Spent, env_observations
from rgym.export.rebuild import AgentView, TaskContext
from rgym.export.texts import Capper
from rgym.models.base import ModelResponse, ToolCall


@dataclass
class Conversation:
    messages: list[dict[str, Any]]
    """The whole conversation, ending with the model's last reply."""
    steps: list[tuple[list[dict[str, Any]], dict[str, Any]]] = field(default_factory=list)
    """Per reply: (the messages it answered, the reply); the prompts are built only when asked
    for (`per_step`), else empty lists (building them costs as much as the rest together)."""
    tools: list[dict[str, Any]] | None = None
    """The OpenAI tool schemas offered (tool-calling runs only)."""
    kind: str = "rebuilt"
    protocol: str | None = None


def response_of(call: dict[str, Any]) -> ModelResponse:
    """The reply a model_call event recorded, as the agent received it."""
    calls = [ToolCall.model_validate(tc) for tc in call.get("tool_calls") or []]
    return ModelResponse(content=call.get("content") or "", tool_calls=calls)


def capped_message(message: dict[str, Any], cap: Capper) -> dict[str, Any]:
    """A copy of `message` with its texts cut to the export's cap."""
    out = dict(message)
    if out.get("content") is not None:
        out["content"] = cap(out["content"])
    if out.get("tool_calls"):
        out["tool_calls"] = [
            {**tc, "function": {**tc["function"], "arguments": cap(tc["function"]["arguments"])}}
            for tc in out["tool_calls"]
        ]
    return out


def agent_conversation(
    episode: Episode, task: TaskContext, view: AgentView, cap: Capper, per_step: bool = False
) -> Conversation:
    """The conversation of a research-agent run (see the module docstring)."""
    tools = view.tools is not None
    first = {}
    for q in episode.queries:
        first.setdefault(q.actions, q)
    start = first.get(0)
    system = capped_message(view.system(), cap)
    opening = capped_message(
        view.task_message(start.started if start else episode.started, Spent()), cap
    )
    history = History(view.config.history_keep)
    history.add("system", system)
    history.add("task", opening)
    conv = Conversation([system, opening], tools=view.tools, protocol=view.config.protocol)
    observations = env_observations(episode, task.budget.max_validations or 0)
    validations = 0
    for n, turn in enumerate(episode.turns, 1):
        if turn.reply is None:
            break  # an action no reply chose (the record is cut short there)
        reply = capped_message(assistant_message(response_of(turn.reply), tools, f"call_{n}"), cap)
        prompt = history.render()[0] if per_step else []
        if turn.reask is not None and per_step:
            bad, error = turn.reask
            why = view.format_error(str(error.get("reason", "")), error.get("reask", 1))
            prompt = [
                *prompt,
                {"role": "assistant", "content": cap(bad.get("content") or "(a tool call)")},
                capped_message(why, cap),
            ]
        conv.steps.append((prompt, reply))
        conv.messages.append(reply)
        history.add("reply", reply)
        validations += turn.validation is not None
        nxt = first.get(n)
        if nxt is None:
            break  # the episode ended: nothing more was sent
        obs = view.observation(observations[n - 1], reply, nxt.started, nxt.spent, n, validations)
        obs = capped_message(obs, cap)  # after the agent's own cut, as the model saw it
        conv.messages.append(obs)
        history.add("observation", obs)
    return conv


def replay_conversation(
    episode: Episode, task: TaskContext, view: AgentView, cap: Capper, per_step: bool = False
) -> Conversation:
    """A replayed run as the research agent's text protocol would carry it (per step, with its
    history elided as the agent would have elided it)."""
    system = capped_message(view.system(), cap)
    opening = capped_message(view.task_message(episode.started, Spent()), cap)
    history = History(view.config.history_keep)
    history.add("system", system)
    history.add("task", opening)
    conv = Conversation([system, opening], kind="replay", protocol="text")
    observations = env_observations(episode, task.budget.max_validations or 0)
    validations = 0
    for n, turn in enumerate(episode.turns, 1):
        block = f"```\n{cap(turn.action)}\n```"
        text = f"{turn.thought.strip()}\n{block}" if turn.thought.strip() else block
        reply = {"role": "assistant", "content": text}
        conv.steps.append((history.render()[0] if per_step else [], reply))
        conv.messages.append(reply)
        history.add("reply", reply)
        validations += turn.validation is not None
        if n == len(episode.turns):
            break
        obs = view.observation(observations[n - 1], reply, turn.ended, Spent(), n, validations)
        obs = capped_message(obs, cap)
        conv.messages.append(obs)
        history.add("observation", obs)
    return conv


def _text(content: Any) -> str | None:
    """A message's content as text (content parts joined; None stays None)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return str(content)


ROLES = ("system", "user", "assistant", "tool")


def mlgym_conversation(history: list[Any], cap: Capper) -> Conversation:
    """An MLGym trajectory's `history` (the primary agent's messages) as a conversation; the
    trailing messages after its last reply are left out (nothing answered them)."""
    agents = [m.get("agent") for m in history if isinstance(m, dict) and m.get("agent")]
    primary = agents[0] if agents else None
    messages: list[dict[str, Any]] = []
    demo: list[bool] = []
    for m in history:
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            continue
        if primary is not None and m.get("agent") not in (None, primary):
            continue
        messages.append({"role": m["role"], "content": cap(_text(m.get("content")))})
        demo.append(bool(m.get("is_demo")))
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    messages = messages[: last + 1]
    conv = Conversation(messages, kind="mlgym", protocol="text")
    for i, m in enumerate(messages):
        if m["role"] == "assistant" and not demo[i]:
            conv.steps.append((messages[:i], m))
    return conv
