"""Any provider LiteLLM speaks, or a local OpenAI-compatible server (`api_base`).

litellm is imported on first use (it takes seconds), with `LITELLM_LOCAL_MODEL_COST_MAP=True`
set before, so its price map comes from the installed package and never from the network. One
`query` is one HTTP attempt: litellm's own retries are switched off (they would be invisible to
the ledger); `rgym.models.ledger` retries rate limits and transient server errors.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pydantic import BaseModel, Field

from rgym.errors import ConfigError
from rgym.models.base import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    ModelError,
    ModelResponse,
    ToolCall,
    estimate_tokens,
)

PRICE_KEYS = ("input_cost_per_token", "output_cost_per_token")


def import_litellm():
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # before the import: no network
    try:
        import litellm
    except ImportError:
        raise ConfigError(
            "LLM models need litellm, which is not installed: pip install 'litellm>=1.40' "
            "(a default dependency of rgym: ./install.sh installs it)"
        ) from None

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


class LiteLLMConfig(BaseModel):
    model: str
    """A LiteLLM model string (`openai/gpt-4o`, `anthropic/claude-...`); with `api_base` a bare
    name becomes `openai/<name>`."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server (vLLM, llama.cpp, Ollama: `http://host:8000/v1`)."""
    temperature: float | None = None
    """Sampling temperature; None leaves the provider's default."""
    top_p: float | None = None
    """Nucleus sampling; None leaves the provider's default."""
    completion_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Passed through to `litellm.completion` (max_tokens, input_cost_per_token, ...)."""
    context_window: int | None = None
    """Prompt tokens the model accepts; None: LiteLLM's model info, else unknown."""


class LiteLLMModel:
    def __init__(self, config: LiteLLMConfig) -> None:
        self.config = config
        self._litellm = lm = import_litellm()
        model = config.model
        providers = {str(getattr(p, "value", p)) for p in lm.provider_list}
        if config.api_base and model.split("/", 1)[0] not in providers:
            model = f"openai/{model}"  # a local server's own name, e.g. meta-llama/Llama-3-8B
        self.name = model
        if not config.api_base:
            try:
                _, provider, _, _ = lm.get_llm_provider(model)
            except Exception:
                raise ConfigError(
                    f"unknown model {model!r}: LiteLLM cannot tell its provider. Name it with a "
                    "provider prefix (openai/gpt-4o, anthropic/claude-3-5-sonnet-20240620, "
                    "ollama/llama3, ...) or pass --api-base URL for an OpenAI-compatible "
                    "server."
                ) from None
            missing = lm.validate_environment(model).get("missing_keys") or []
            if missing:
                raise ConfigError(
                    f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set "
                    f"(needed for {model!r}); export it, or pass --api-base URL for a local "
                    "server."
                )
        info = self._model_info(lm, model)
        kw = config.completion_kwargs
        self.price = (kw.get(PRICE_KEYS[0]), kw.get(PRICE_KEYS[1]))
        if None in self.price:
            self.price = (info.get(PRICE_KEYS[0]), info.get(PRICE_KEYS[1]))
        self.priced = None not in self.price
        self.price_note = (
            ""
            if self.priced
            else (
                f"no price known for {model!r}: its calls count as $0 (pass completion_kwargs "
                "input_cost_per_token/output_cost_per_token to set one)"
            )
        )
        self.max_output_tokens = int(
            kw.get("max_tokens")
            or kw.get("max_completion_tokens")
            or info.get("max_output_tokens")
            or DEFAULT_MAX_OUTPUT_TOKENS
        )
        self.context_window = config.context_window or info.get("max_input_tokens")
        self._tokenizer_ok = bool(info)

    @staticmethod
    def _model_info(lm, model: str) -> dict[str, Any]:
        try:
            return dict(lm.get_model_info(model))
        except Exception:
            return {}

    def count_tokens(self, text: str) -> int:
        if self._tokenizer_ok:
            try:
                return int(self._litellm.token_counter(model=self.name, text=text))
            except Exception:
                self._tokenizer_ok = False
        return estimate_tokens(text)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        if not self.priced:
            return 0.0
        return prompt_tokens * self.price[0] + completion_tokens * self.price[1]

    def query(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict] | None = None,
        *,
        timeout: float | None = None,
    ) -> ModelResponse:
        lm, c = self._litellm, self.config
        kwargs: dict[str, Any] = {"num_retries": 0, "max_retries": 0, **c.completion_kwargs}
        if c.api_base:
            kwargs["api_base"] = c.api_base
            kwargs.setdefault("api_key", os.environ.get("OPENAI_API_KEY") or "no-key")
        for key in ("temperature", "top_p"):
            if getattr(c, key) is not None:
                kwargs[key] = getattr(c, key)
        if tools:
            kwargs["tools"] = tools
        if timeout is not None:
            kwargs["timeout"] = max(timeout, 0.1)
        start = time.monotonic()
        try:
            resp = lm.completion(model=self.name, messages=messages, **kwargs)
        except Exception as e:
            raise classify(e) from e
        latency = time.monotonic() - start
        try:
            msg = resp.choices[0].message
            usage = getattr(resp, "usage", None)
            pt = int(getattr(usage, "prompt_tokens", 0) or 0)
            ct = int(getattr(usage, "completion_tokens", 0) or 0)
            cost = (
                (getattr(resp, "_hidden_params", None) or {}).get("response_cost")
                if self.priced
                else None
            )
            calls = [
                ToolCall(
                    id=tc.id or "",
                    name=tc.function.name or "",
                    arguments=tc.function.arguments or "{}",
                )
                for tc in (msg.tool_calls or [])
            ]
        except (AttributeError, IndexError, TypeError, ValueError) as e:
            raise ModelError("bad_response", f"the server's answer could not be read: {e}") from e
        return ModelResponse(
            content=msg.content or "",
            tool_calls=calls,
            prompt_tokens=pt,
            completion_tokens=ct,
            cost_usd=float(cost) if cost is not None else self.cost(pt, ct),
            latency_s=latency,
            raw=resp.model_dump(),
        )


_KINDS = {
    429: "429",
    401: "auth",
    403: "auth",
    404: "not_found",
    400: "bad_request",
    408: "timeout",
    422: "bad_request",
}


def classify(e: Exception) -> ModelError:
    """A litellm/openai exception as a ModelError: rate limits, 5xx, timeouts and dropped
    connections are retryable; auth, not-found, bad requests and context overflows are not."""
    name = type(e).__name__
    status = getattr(e, "status_code", None)
    message = f"{name}: {str(e)[:500]}"
    if name == "ContextWindowExceededError":
        return ModelError("context_window", message)
    if name in ("Timeout", "APITimeoutError"):
        return ModelError("timeout", message, retryable=True)
    if name == "APIConnectionError" and not isinstance(status, int):
        return ModelError("connection", message, retryable=True)
    if isinstance(status, int):
        retry_after = None
        headers = getattr(getattr(e, "response", None), "headers", None) or {}
        try:
            retry_after = float(headers.get("retry-after")) if headers.get("retry-after") else None
        except (TypeError, ValueError):
            pass
        if status == 429 or status >= 500:
            return ModelError(str(status), message, retryable=True, retry_after=retry_after)
        return ModelError(_KINDS.get(status, str(status)), message)
    return ModelError(name, message)
