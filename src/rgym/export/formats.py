"""Rows in the shapes trainers read (docs/export.md describes each field).

SFT (`rgym export sft`), one row per run, or per reply with --per-step:

- openai: `{"messages", "tools", "metadata"}`: OpenAI chat messages, tool-call arguments as the
  JSON string the model wrote.
- trl: TRL's conversational language-modelling type (`messages`), or with --per-step its
  conversational prompt-completion type (`prompt`, `completion`); `tools` as JSON schemas;
  tool-call arguments as objects and tool results named after their tool, as TRL's dataset
  docs show them.
- verl: verl's multi-turn SFT rows (`messages`), written as parquet. verl reads them with
  pandas, which holds a list of tool schemas as one Arrow struct whose fields are the union of
  every tool's parameters, the missing ones null: the schemas it would hand the chat template
  would be wrong. So the rows carry no `tools` column; the schemas are in `tools_json` (a JSON
  string), and the system prompt documents every command anyway.

RL (`rgym export rl`), one row per episode:

- episodes: the episode as (observation, action, reward) steps, for offline RL and reward models.
- trl: TRL's conversational prompt-only type for GRPO (`prompt`), the task and the recorded
  reward as extra columns (TRL hands those to reward functions).
- verl: verl's RL dataset rows (`data_source`, `prompt`, `ability`, `reward_model`,
  `extra_info`), written as parquet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from rgym.export.transcript import Conversation

SFT_FORMATS = ("openai", "trl", "verl")
RL_FORMATS = ("episodes", "trl", "verl")
PARQUET_ONLY = ("verl",)
"""verl reads parquet files (its SFT dataset with pandas, its RL dataset with datasets)."""


def _arguments(raw: Any) -> Any:
    """Tool-call arguments as an object when they parse as one (else as written)."""
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            return raw
        return value if isinstance(value, dict) else raw
    return raw


def trl_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as TRL's tool-calling examples write them (arguments as objects, a tool
    result named after its tool)."""
    names: dict[str, str] = {}
    out = []
    for m in messages:
        m = dict(m)
        if m.get("tool_calls"):
            calls = []
            for tc in m["tool_calls"]:
                fn = tc["function"]
                names[tc.get("id", "")] = fn["name"]
                calls.append({**tc, "function": {**fn, "arguments": _arguments(fn["arguments"])}})
            m["tool_calls"] = calls
        if m["role"] == "tool" and m.get("tool_call_id") in names:
            m["name"] = names[m["tool_call_id"]]
        out.append(m)
    return out


def sft_rows(
    conv: Conversation, fmt: str, per_step: bool, meta: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The SFT rows of one run's conversation."""
    convert = trl_messages if fmt == "trl" else list
    if fmt == "verl":  # per-run only (verl trains on every assistant turn of a row)
        tools = json.dumps(conv.tools) if conv.tools else None
        yield {"messages": conv.messages, "tools_json": tools, "metadata": {**meta, "step": None}}
        return
    if not per_step:
        yield {
            "messages": convert(conv.messages),
            "tools": conv.tools,
            "metadata": {**meta, "step": None},
        }
        return
    for n, (prompt, reply) in enumerate(conv.steps, 1):
        step_meta = {**meta, "step": n}
        if fmt == "trl":
            both = trl_messages([*prompt, reply])
            yield {
                "prompt": both[:-1],
                "completion": both[-1:],
                "tools": conv.tools,
                "metadata": step_meta,
            }
        else:
            yield {"messages": [*prompt, reply], "tools": conv.tools, "metadata": step_meta}


def rl_row(
    fmt: str,
    index: int,
    meta: dict[str, Any],
    steps: list[dict[str, Any]],
    opening: list[dict[str, Any]],
    family: str,
) -> dict[str, Any]:
    """One episode's RL row; `opening` is the research agent's first prompt (system, task)."""
    task, variant, reward = meta["task"], meta["variant"], meta["reward"]
    if fmt == "episodes":
        return {
            "run_id": meta["run_id"],
            "task": task,
            "variant": variant,
            "exit_status": meta["exit_status"],
            "reward": reward,
            "steps": steps,
            "metadata": meta,
        }
    if fmt == "trl":
        return {
            "prompt": opening,
            "task": task,
            "variant": variant,
            "run_id": meta["run_id"],
            "recorded_reward": reward,
            "exit_status": meta["exit_status"],
        }
    return {
        "data_source": f"rgym/{task}",
        "prompt": opening,
        "ability": family,
        "reward_model": {"style": "rule", "ground_truth": f"{task}:{variant}"},
        "extra_info": {
            "index": index,
            "split": "train",
            "run_id": meta["run_id"],
            "task": task,
            "variant": variant,
            "recorded_reward": reward,
            "exit_status": meta["exit_status"],
            "interaction_kwargs": {"name": "rgym", "task": task, "variant": variant},
        },
    }
