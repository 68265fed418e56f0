"""What the footer of each turn shows: the step, what is left of each budget, the open file and
the working directory (read from the sandbox with a probe that is not an action)."""

from __future__ import annotations

import json
from typing import Any

from rgym.agent.tools import STATE_PROBE
from rgym.errors import SandboxUnavailable


def probe(env) -> dict[str, Any]:
    """The sandbox's cwd and the file viewer's open file; empty without a sandbox."""
    sandbox = getattr(env, "sandbox", None)
    if sandbox is None:
        return {}
    try:
        out = sandbox.exec(STATE_PROBE, timeout=10).output.split("\n", 1)
    except SandboxUnavailable:
        return {}
    try:
        open_file = json.loads(out[1]).get("open_file") if len(out) > 1 else None
    except (json.JSONDecodeError, AttributeError):
        open_file = None
    return {"cwd": out[0].strip(), "open_file": open_file}


def footer(env, remaining: dict[str, float | None], step: int) -> dict[str, Any]:
    """The footer template's values (step, max_steps, steps_left, budgets)."""
    b = env.budget
    budgets = [f"{b.max_validations - getattr(env, 'validations', 0)} validations left"]
    if remaining["cost_usd"] is not None:
        budgets.append(f"${remaining['cost_usd']:.4f} of ${b.max_cost_usd:g} left")
    if remaining["tokens"] is not None:
        budgets.append(f"{remaining['tokens']} of {b.max_tokens} tokens left")
    if remaining["wall_s"] is not None:
        budgets.append(f"{max(remaining['wall_s'], 0):.0f} s of wall-clock left")
    return {
        "step": step,
        "max_steps": b.max_steps,
        "steps_left": b.max_steps - step,
        "budgets": budgets,
    }
