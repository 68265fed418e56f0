"""The model contract: messages in, one assistant reply out, with what it cost.

A backend makes exactly one attempt per `query` and raises `ModelError` when it fails; retries,
backoff and the budget checks before each attempt live in one place, `rgym.models.ledger`, so
every attempt is charged and recorded whatever the backend.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from rgym.errors import RgymError

DEFAULT_MAX_OUTPUT_TOKENS = 4096
"""Completion tokens assumed for the worst case of a call when neither the config nor the
model's metadata gives a limit."""


class ToolCall(BaseModel):
    """One native tool call: `arguments` is the raw JSON string the model wrote."""

    id: str = ""
    name: str
    arguments: str = "{}"


class ModelResponse(BaseModel):
    """One assistant reply and what it cost."""

    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    raw: dict[str, Any] | None = None


class ModelError(RgymError):
    """A failed attempt. `retryable` (rate limits, 5xx, dropped connections, timeouts) says
    whether the ledger may try again; `kind` is a short label for the record ("429", "500",
    "timeout", "auth", "not_found", "bad_request", "context_window", ...)."""

    def __init__(
        self, kind: str, message: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind, self.retryable, self.retry_after = kind, retryable, retry_after


def estimate_tokens(text: str) -> int:
    """The offline fallback token count: about four characters a token."""
    return len(text) // 4 + 1


@runtime_checkable
class Model(Protocol):
    """What the agent needs of a model. `query` makes one attempt and raises ModelError."""

    name: str
    max_output_tokens: int
    """Completion tokens one call may produce (the worst case the budget checks use)."""
    context_window: int | None
    """Prompt tokens the model accepts; None when unknown."""

    def query(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict] | None = None,
        *,
        timeout: float | None = None,
    ) -> ModelResponse: ...

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` (an estimate is fine)."""
        ...

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollars for a call of this size at the model's price (0 when unknown)."""
        ...
