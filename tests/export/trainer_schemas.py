"""What each trainer documents about the data it reads, as checks on rows loaded back from an
export (written from the trainers' docs and data loaders, independently of rgym.export).

- TRL (docs: "Dataset formats and types"; trl.data_utils.is_conversational and
  apply_chat_template): a conversational example has exactly the keys of one type among
  prompt/completion/messages/chosen/rejected/label ({"messages"}, {"prompt"}, {"prompt",
  "completion"}); each list holds {"role", "content"} messages; tool calls are
  {"type": "function", "function": {"name", "arguments": <object>}}; `tools` is a list of JSON
  schemas ({"type": "function", "function": {"name", "description", "parameters"}}) or a JSON
  string of one; a prompt ends with a user or tool message.
- verl multi-turn SFT (verl.utils.dataset.multiturn_sft_dataset): a parquet file read with
  pandas; `messages` a list of {"role", "content"} dicts; `tools` (optional) a list of schemas.
- verl RL (docs "Prepare data"; verl.utils.dataset.rl_dataset): parquet read with
  datasets; `data_source` str, `prompt` a list of {"role", "content"}, `ability` str,
  `reward_model` {"style", "ground_truth"}, `extra_info` a dict whose `index` the loader reads.
- OpenAI chat messages: roles system/user/assistant/tool; an assistant's `tool_calls` items have
  `id`, `type: function`, `function.name` and `function.arguments` (a JSON string); a tool
  message answers an earlier call by `tool_call_id`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

TRL_KEYS = {"prompt", "chosen", "rejected", "completion", "messages", "label"}
TRL_TYPES = [{"messages"}, {"prompt"}, {"prompt", "completion"}]
ROLES = {"system", "user", "assistant", "tool"}


def plain(value: Any) -> Any:
    """A pandas cell as Python values (numpy arrays to lists), as verl's loader converts it
    (convert_nested_value_to_list_recursive)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | np.ndarray):
        return [plain(v) for v in list(value)]
    return value


def check_tool_schema(tool: dict) -> None:
    assert tool["type"] == "function", tool
    fn = tool["function"]
    assert isinstance(fn["name"], str) and fn["name"]
    assert isinstance(fn["description"], str)
    params = fn["parameters"]
    assert params["type"] == "object"
    assert isinstance(params["properties"], dict)
    for name, prop in params["properties"].items():
        assert isinstance(prop, dict) and prop.get("type") in ("string", "integer"), (name, prop)
    assert set(params["required"]) <= set(params["properties"])


def check_messages(messages: list[dict], *, arguments: type) -> None:
    """Chat messages, tool calls with `arguments` of the given type (str for OpenAI, dict
    for TRL)."""
    assert isinstance(messages, list) and messages
    calls: set[str] = set()
    for m in messages:
        assert m["role"] in ROLES, m
        if m["role"] == "assistant" and m.get("tool_calls"):
            assert m.get("content") is None or isinstance(m["content"], str)
            for tc in m["tool_calls"]:
                assert tc["type"] == "function" and isinstance(tc["function"]["name"], str)
                assert isinstance(tc["function"]["arguments"], arguments), tc
                if arguments is str:
                    assert isinstance(json.loads(tc["function"]["arguments"]), dict)
                calls.add(tc["id"])
        else:
            assert isinstance(m["content"], str), m
        if m["role"] == "tool":
            assert m["tool_call_id"] in calls, "a tool message answers an earlier call"


def check_trl(example: dict) -> str:
    """A TRL conversational example; returns its type."""
    keys = {k for k in example if k in TRL_KEYS}
    assert keys in TRL_TYPES, f"keys {keys} are none of TRL's types"
    first = example[next(iter(keys))]
    assert isinstance(first, list) and isinstance(first[0], dict) and "role" in first[0]
    tools = example.get("tools")
    if isinstance(tools, str):
        tools = json.loads(tools)
    for tool in tools or []:
        check_tool_schema(tool)
    if "messages" in keys:
        check_messages(example["messages"], arguments=dict)
        return "language modeling"
    check_messages([*example["prompt"], *example.get("completion", [])], arguments=dict)
    assert example["prompt"][-1]["role"] in ("user", "tool")
    if "completion" in keys:
        assert [m["role"] for m in example["completion"]] == ["assistant"]
        return "prompt-completion"
    return "prompt-only"


def check_verl_sft(row: dict) -> None:
    """A row of a verl multi-turn SFT parquet, as pandas reads it."""
    messages = plain(row["messages"])
    check_messages(messages, arguments=str)
    assert any(m["role"] == "assistant" for m in messages)
    tools = row.get("tools")
    for tool in plain(tools) if tools is not None else []:
        check_tool_schema(tool)


def check_verl_rl(row: dict) -> None:
    """A row of a verl RL parquet, as datasets reads it."""
    assert isinstance(row["data_source"], str) and row["data_source"]
    assert isinstance(row["ability"], str) and row["ability"]
    prompt = row["prompt"]
    assert [m["role"] for m in prompt][-1] == "user"
    assert all(isinstance(m["content"], str) for m in prompt)
    assert set(row["reward_model"]) >= {"style", "ground_truth"}
    assert isinstance(row["extra_info"], dict) and isinstance(row["extra_info"]["index"], int)


def check_episode(row: dict) -> None:
    steps = row["steps"]
    assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))
    assert [s["done"] for s in steps] == [False] * (len(steps) - 1) + [True]
    assert all(s["reward"] == 0.0 for s in steps[:-1])
    assert steps[-1]["reward"] == row["reward"]
    assert all(isinstance(s["observation"], str) and isinstance(s["action"], str) for s in steps)
