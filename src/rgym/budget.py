"""Budgets are limits, not hints: one typed vocabulary for every limit a run can hit."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class BudgetKind(StrEnum):
    steps = "steps"
    tokens = "tokens"
    cost = "cost"
    wall = "wall"
    validations = "validations"


class Budget(BaseModel):
    """Limits for one episode. None means the task's default (steps, wall, validations) or no
    limit (tokens, cost)."""

    max_steps: int | None = None
    """Actions the agent may take (each command, validate and submit counts one)."""
    max_wall_seconds: float | None = None
    """Wall-clock seconds from reset to the end of the episode."""
    max_validations: int | None = None
    """How many times `validate` may score on the dev split."""
    max_tokens: int | None = None
    """Prompt plus completion tokens over all model calls (agents only)."""
    max_cost_usd: float | None = None
    """Dollars over all model calls, retries and re-asks included (agents only)."""
