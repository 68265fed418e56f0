"""The agent contract: run an episode on an env that has been reset, report what it spent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel

StepCallback = Callable[[int, str, str, dict[str, Any]], None]
"""on_step(step, action, observation, info): for live progress."""


class AgentStats(BaseModel):
    """What the agent spent; result.json's totals come from here (the ledger's sums)."""

    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class Agent(Protocol):
    name: str
    model_name: str | None

    def run(
        self, env, observation: str, info: dict[str, Any], *, on_step: StepCallback | None = None
    ) -> AgentStats:
        """Act until the episode ends (the env is already reset; `observation` is the prompt)."""
        ...
