"""A model that answers from a list: for tests and benchmarks, no network, no randomness."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from rgym.models.base import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    ModelError,
    ModelResponse,
    ToolCall,
    estimate_tokens,
)

SUBMIT = "I am out of scripted answers.\n```\nsubmit\n```"


class ScriptedConfig(BaseModel):
    input_cost_per_token: float = 0.0
    """Dollars per prompt token (to exercise cost budgets)."""
    output_cost_per_token: float = 0.0
    """Dollars per completion token."""
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    """The worst-case completion size the ledger assumes."""
    context_window: int | None = None
    """Prompt tokens accepted; None for unlimited."""
    when_done: str = SUBMIT
    """The answer once the script is used up."""


class ScriptedModel:
    """Answers with `responses` in order. An item is a string (the reply), a dict of
    ModelResponse fields, a ModelResponse, or a ModelError to raise for that attempt.
    Token counts default to the chars/4 estimate; every `messages` list is kept in `calls`."""

    def __init__(
        self, responses: list[Any], config: ScriptedConfig | None = None, name: str = "scripted"
    ) -> None:
        self.responses = list(responses)
        self.config = config or ScriptedConfig()
        self.name = name
        self.max_output_tokens = self.config.max_output_tokens
        self.context_window = self.config.context_window
        self.calls: list[list[dict[str, Any]]] = []

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        c = self.config
        return prompt_tokens * c.input_cost_per_token + completion_tokens * c.output_cost_per_token

    def query(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict] | None = None,
        *,
        timeout: float | None = None,
    ) -> ModelResponse:
        start = time.perf_counter()
        n = len(self.calls)
        self.calls.append(messages)
        item = self.responses[n] if n < len(self.responses) else self.config.when_done
        if isinstance(item, ModelError):
            raise item
        if isinstance(item, ModelResponse):
            return item
        if isinstance(item, str):
            item = {"content": item}
        item = dict(item)
        item["tool_calls"] = [
            tc if isinstance(tc, ToolCall) else ToolCall(**tc) for tc in item.get("tool_calls", [])
        ]
        prompt = sum(estimate_tokens(str(m.get("content") or "")) for m in messages)
        item.setdefault("prompt_tokens", prompt)
        item.setdefault("completion_tokens", estimate_tokens(item.get("content") or ""))
        item.setdefault("cost_usd", self.cost(item["prompt_tokens"], item["completion_tokens"]))
        item.setdefault("latency_s", time.perf_counter() - start)
        return ModelResponse(**item)
