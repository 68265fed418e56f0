"""Replays the assistant replies of an earlier run (its events.jsonl) or of a file.

Sources: a run directory or its `events.jsonl` (the `model_call` events whose outcome was `ok`,
in order), an MLGym `.traj` or the MLGym run folder holding it (its assistant messages), or a
YAML/JSON list whose items are strings or `{content, tool_calls}`. When the replies run out it
answers `submit`. Replayed calls cost nothing and report the chars/4 token estimate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from rgym.errors import ConfigError
from rgym.models.scripted import ScriptedConfig, ScriptedModel
from rgym.runs.mlgym_traj import find_traj, is_mlgym_source
from rgym.runs.record import iter_events


def load_replies(path: Path) -> list[dict[str, Any]]:
    """The assistant replies stored at `path` (see the module docstring for the formats)."""
    path = Path(path)
    if is_mlgym_source(path):
        path = find_traj(path)
    elif path.is_dir():
        path = path / "events.jsonl"
    if not path.exists():
        raise ConfigError(
            f"replay: {path} does not exist; pass a run directory, its "
            "events.jsonl, an MLGym .traj or a YAML/JSON list of replies"
        )
    if path.name.endswith(".jsonl"):
        return [
            {"content": ev.get("content") or "", "tool_calls": ev.get("tool_calls") or []}
            for ev in iter_events(path)
            if ev.get("type") == "model_call" and ev.get("outcome") == "ok"
        ]
    if path.suffix == ".traj":
        try:
            history = json.loads(path.read_text()).get("history", [])
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as e:
            raise ConfigError(f"replay: {path} is not a readable MLGym trajectory ({e})") from None
        return [
            {"content": m.get("content") or ""}
            for m in history
            if isinstance(m, dict) and m.get("role") == "assistant" and not m.get("is_demo")
        ]
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"replay: {path} is not valid YAML/JSON: {e}") from None
    if not isinstance(raw, list):
        raise ConfigError(f"replay: {path} must hold a list of replies")
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            out.append({"content": item})
        elif isinstance(item, dict) and ("content" in item or "tool_calls" in item):
            out.append(
                {"content": item.get("content") or "", "tool_calls": item.get("tool_calls") or []}
            )
        else:
            raise ConfigError(
                f"replay: {path}: item {i + 1} must be a string or have 'content'/'tool_calls'"
            )
    return out


class ReplayModel(ScriptedModel):
    def __init__(self, path: Path | str) -> None:
        replies = [{**r, "cost_usd": 0.0} for r in load_replies(Path(path))]
        super().__init__(replies, ScriptedConfig(), name=f"replay:{path}")
