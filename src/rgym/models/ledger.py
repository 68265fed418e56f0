"""The cost ledger: every model call goes through here, and a call that could break a budget is
never made.

Before each attempt (first tries, retries and re-asks alike) the ledger computes the call's worst
case — the prompt's token estimate plus the model's completion limit, at the model's price — and
refuses with `BudgetExceeded` when that could cross `max_tokens` or `max_cost_usd`, or when the
wall-clock deadline has passed. Each attempt becomes one `model_call` event (tokens, cost,
latency, attempt number, outcome: `ok`, `retry:<kind>` or `error:<kind>`), and the totals the agent
reports are the sums of exactly those events. Rate limits (429) and transient failures (5xx,
timeouts, dropped connections) are retried with exponential backoff and jitter; auth, not-found and
bad-request errors are not.

The prompt estimate is local (a tokenizer or a character count), and a provider may count far
more. So the ledger learns from what providers report: the worst case of the next call never
uses fewer prompt tokens than the estimate scaled by the largest reported/estimated ratio seen,
nor fewer than the largest prompt the provider has reported, and never fewer completion tokens
than the largest completion seen. A provider that inflates its usage can cost one call more
than expected, never a crossed limit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from rgym.budget import Budget
from rgym.errors import BudgetExceeded
from rgym.models.base import Model, ModelError, ModelResponse


class RetryPolicy(BaseModel):
    max_retries: int = 5
    """Retries after a failed attempt (rate limits, 5xx, timeouts); 0 disables them."""
    backoff_s: float = 2.0
    """First wait; doubles each retry (with jitter), unless the server sends Retry-After."""
    max_backoff_s: float = 60.0
    """The longest single wait."""
    request_timeout_s: float = 600.0
    """Longest one HTTP attempt may take (also cut to the wall-clock time left)."""


class Ledger:
    def __init__(
        self,
        budget: Budget,
        sink: Callable[..., None] | None = None,
        *,
        deadline: float | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.budget = budget
        self.sink = sink
        self.deadline = deadline
        """time.monotonic() at which the wall-clock budget runs out (None: no limit)."""
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.calls = self.prompt_tokens = self.completion_tokens = 0
        self.cost_usd = 0.0
        self.prompt_ratio = 1.0
        """The largest reported/estimated prompt-token ratio seen so far (at least 1)."""
        self.max_reported_prompt = 0
        self.max_reported_completion = 0

    def worst_case_tokens(self, model: Model, prompt_tokens: int) -> tuple[int, int]:
        """(prompt, completion) tokens the next call may use, corrected by reported usage."""
        prompt = max(
            prompt_tokens, int(prompt_tokens * self.prompt_ratio + 0.999), self.max_reported_prompt
        )
        return prompt, max(model.max_output_tokens, self.max_reported_completion)

    def totals(self) -> dict[str, Any]:
        """model_calls, prompt_tokens, completion_tokens, cost_usd: the sums of the events."""
        return {
            "model_calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
        }

    def remaining(self) -> dict[str, float | None]:
        b = self.budget
        return {
            "tokens": None
            if b.max_tokens is None
            else b.max_tokens - self.prompt_tokens - self.completion_tokens,
            "cost_usd": None if b.max_cost_usd is None else b.max_cost_usd - self.cost_usd,
            "wall_s": None if self.deadline is None else self.deadline - time.monotonic(),
        }

    def exhausted(self) -> str | None:
        """The budget already used up, if any (after a call that used more than estimated)."""
        b = self.budget
        if b.max_tokens is not None and self.prompt_tokens + self.completion_tokens >= b.max_tokens:
            return "tokens"
        if b.max_cost_usd is not None and self.cost_usd >= b.max_cost_usd:
            return "cost"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "wall"
        return None

    def check(self, model: Model, prompt_tokens: int) -> None:
        """Raise BudgetExceeded if a call with this prompt could cross a limit."""
        b = self.budget
        prompt_tokens, out = self.worst_case_tokens(model, prompt_tokens)
        used_tokens = self.prompt_tokens + self.completion_tokens
        if b.max_tokens is not None and used_tokens + prompt_tokens + out > b.max_tokens:
            self._refuse("tokens", used_tokens, prompt_tokens + out, b.max_tokens)
        worst = model.cost(prompt_tokens, out)
        if b.max_cost_usd is not None and self.cost_usd + worst > b.max_cost_usd:
            self._refuse("cost", self.cost_usd, worst, b.max_cost_usd)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise BudgetExceeded("wall", 0, 0)

    def _refuse(self, kind: str, used: float, worst: float, limit: float) -> None:
        self._emit(
            "budget",
            kind=kind,
            used=used,
            worst_case_call=worst,
            limit=limit,
            message=f"next call not made: its worst case ({worst:g}) on top of {used:g} "
            f"would cross the {kind} limit {limit:g}",
        )
        raise BudgetExceeded(kind, used, limit)

    def query(
        self,
        model: Model,
        messages: list[dict[str, Any]],
        tools: list[dict] | None = None,
        *,
        prompt_tokens: int,
        step: int,
        purpose: str = "action",
    ) -> ModelResponse:
        """One model answer, retrying transient failures; every attempt is charged and recorded.

        Raises:
            BudgetExceeded: the next attempt could cross a limit, or the wall clock ran out.
            ModelError: a failure that is not retried, or the last retry failed.
        """
        policy = self.retry
        for attempt in range(1, policy.max_retries + 2):
            self.check(model, prompt_tokens)
            timeout = policy.request_timeout_s
            if self.deadline is not None:
                timeout = min(timeout, self.deadline - time.monotonic())
            start = time.monotonic()
            try:
                resp = model.query(messages, tools, timeout=timeout)
            except ModelError as e:
                latency = time.monotonic() - start
                out_of_time = self.exhausted() == "wall"
                last = not e.retryable or attempt > policy.max_retries or out_of_time
                self._charge(
                    step,
                    attempt,
                    purpose,
                    model,
                    latency,
                    None,
                    f"{'error' if last else 'retry'}:{e.kind}",
                    error=str(e),
                )
                if out_of_time:
                    raise BudgetExceeded("wall", 0, 0) from e
                if last:
                    raise
                wait = (
                    e.retry_after
                    if e.retry_after is not None
                    else min(policy.max_backoff_s, policy.backoff_s * 2 ** (attempt - 1))
                )
                wait *= 1.0 if e.retry_after is not None else random.uniform(0.5, 1.0)
                if self.deadline is not None and time.monotonic() + wait >= self.deadline:
                    raise BudgetExceeded("wall", 0, 0) from e
                self.sleep(wait)
                continue
            self._charge(
                step,
                attempt,
                purpose,
                model,
                resp.latency_s or time.monotonic() - start,
                resp,
                "ok",
                estimated_prompt_tokens=prompt_tokens,
            )
            self._learn(prompt_tokens, resp)
            return resp
        raise AssertionError("unreachable")

    def _learn(self, estimated: int, resp: ModelResponse) -> None:
        """Correct future worst cases by the usage the provider reported for this call."""
        if resp.prompt_tokens and estimated > 0:
            self.prompt_ratio = max(self.prompt_ratio, resp.prompt_tokens / estimated)
        self.max_reported_prompt = max(self.max_reported_prompt, resp.prompt_tokens or 0)
        self.max_reported_completion = max(
            self.max_reported_completion, resp.completion_tokens or 0
        )

    def _charge(
        self,
        step: int,
        attempt: int,
        purpose: str,
        model: Model,
        latency: float,
        resp: ModelResponse | None,
        outcome: str,
        **extra: Any,
    ) -> None:
        pt = resp.prompt_tokens if resp else 0
        ct = resp.completion_tokens if resp else 0
        cost = resp.cost_usd if resp else 0.0
        self.calls += 1
        self.prompt_tokens += pt
        self.completion_tokens += ct
        self.cost_usd += cost
        if resp is not None:
            extra["content"] = resp.content
            if resp.tool_calls:
                extra["tool_calls"] = [tc.model_dump() for tc in resp.tool_calls]
        self._emit(
            "model_call",
            step=step,
            attempt=attempt,
            purpose=purpose,
            model=model.name,
            outcome=outcome,
            prompt_tokens=pt,
            completion_tokens=ct,
            cost_usd=cost,
            latency_s=round(latency, 4),
            **extra,
        )

    def _emit(self, type_: str, **data: Any) -> None:
        if self.sink is not None:
            self.sink(type_, **data)
