"""Replays a fixed list of actions: a task's demonstration, an actions file, or an earlier run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rgym.agent.base import AgentStats, StepCallback
from rgym.errors import ConfigError


def load_actions(path: Path) -> list[dict[str, str]]:
    """Actions from a YAML/JSON list (strings, or {action, thought}), or from a run directory or
    its events.jsonl (the `action` events, in order)."""
    path = Path(path)
    if path.is_dir():
        path = path / "events.jsonl"
    if not path.exists():
        raise ConfigError(f"actions file {path} does not exist")
    if path.name.endswith(".jsonl"):
        from rgym.runs.record import iter_events

        return [
            {"action": ev["action"], "thought": ev.get("thought", "")}
            for ev in iter_events(path)
            if ev.get("type") == "action"
        ]
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML/JSON: {e}") from None
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: expected a list of actions (strings or {{action, thought}})")
    acts = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            acts.append({"action": item, "thought": ""})
        elif isinstance(item, dict) and isinstance(item.get("action"), str):
            acts.append({"action": item["action"], "thought": str(item.get("thought", ""))})
        else:
            raise ConfigError(f"{path}: item {i + 1} must be a string or have an 'action' string")
    return acts


class ReplayAgent:
    name = "replay"

    def __init__(self, actions: list[dict[str, str]], label: str = "actions"):
        self.actions = actions
        self.model_name = label

    def run(
        self, env, observation: str, info: dict[str, Any], *, on_step: StepCallback | None = None
    ) -> AgentStats:
        for n, item in enumerate(self.actions, 1):
            if item.get("thought") and env.record is not None:
                env.record.event("thought", step=n, thought=item["thought"])
            observation, _, terminated, truncated, info = env.step(item["action"])
            if on_step:
                on_step(n, item["action"], observation, info)
            if terminated or truncated:
                break
        return AgentStats()
