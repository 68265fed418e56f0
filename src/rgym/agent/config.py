"""The default agent's configuration: `RunConfig.agent_options`, validated in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rgym.models.ledger import RetryPolicy

DEFAULT_CONTEXT_WINDOW = 32_768
"""Prompt tokens assumed when neither the option nor the model's metadata says (local models)."""


class AgentConfig(BaseModel):
    """Every key `agent_options` may hold; unknown keys are an error that lists these."""

    model_config = ConfigDict(extra="forbid")

    api_base: str | None = None
    """Base URL of an OpenAI-compatible server; a bare model name then means `openai/<name>`."""
    temperature: float | None = None
    """Sampling temperature (None: the provider's default)."""
    top_p: float | None = None
    """Nucleus sampling (None: the provider's default)."""
    completion_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra `litellm.completion` kwargs (max_tokens, input_cost_per_token, ...)."""
    protocol: Literal["text", "tools"] = "text"
    """text: a discussion then one fenced command block; tools: native tool calling."""
    templates_dir: Path | None = None
    """A folder whose system/task/next_step/format_error/footer .jinja files replace ours."""
    max_reasks: int = 3
    """Unusable replies re-asked in a row (with the reason) before the episode ends with
    auto_submitted:format_error."""
    history_keep: int = 5
    """Observations kept in full; older ones become a one-line note."""
    max_observation_chars: int = 10_000
    """Longer observations are cut (head and tail kept) before the model sees them."""
    window: int = 100
    """Lines the file viewer shows at a time."""
    memory: bool = False
    """Offer memory_write/memory_read (notes kept across episodes of the task, in
    $RGYM_CACHE/memory/<task>.jsonl)."""
    context_window: int | None = None
    """Prompt tokens the model accepts (None: the model's metadata, else 32768)."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    """Retries of rate-limited and transient model failures."""

    @model_validator(mode="before")
    @classmethod
    def _none_means_default(cls, data: Any) -> Any:
        """A CLI passes None for every flag not given: that means the default."""
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data

    def model_fields_for_litellm(self) -> dict[str, Any]:
        return {
            "api_base": self.api_base,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "completion_kwargs": self.completion_kwargs,
            "context_window": self.context_window,
        }
