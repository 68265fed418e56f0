"""Replays a fixed list of actions: a task's demonstration, an actions file, an earlier rgym run,
or an MLGym trajectory (a `.traj` or the run folder holding it).

The replay agent works the sandbox the way the research agent does: its file tools (MLGym's
window of 1000 lines) are on PATH, and an `edit`/`insert` written with its text on the
following lines and an end marker is handed its text as a heredoc.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rgym.agent.base import AgentStats, StepCallback
from rgym.agent.tools import MLGYM_WINDOW, install, tools_dir
from rgym.errors import ConfigError
from rgym.runs.mlgym_traj import (
    Actions,
    guard_text_commands,
    is_mlgym_source,
    read_trajectory,
    restorable,
    restore_action,
)

INSTALLED = "the env was made without the replay agent's tool_dirs; the tools were installed"


def load_actions(path: Path) -> Actions:
    """Actions from a YAML/JSON list (strings, or {action, thought}), from a run directory or
    its events.jsonl (the `action` events, in order), or from an MLGym `.traj` or run folder
    (converted; the result's `notes` say what was changed or left out)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"actions file {path} does not exist")
    if is_mlgym_source(path):
        traj = read_trajectory(path)
        label = f"mlgym:{traj.model}" if traj.model else f"mlgym:{traj.path.name}"
        return Actions(traj.actions, label=label, notes=traj.notes, source=traj)
    if path.is_dir():
        path = path / "events.jsonl"
        if not path.exists():
            raise ConfigError(
                f"{path.parent} is neither an rgym run (no events.jsonl) nor an MLGym run "
                "(no .traj file)"
            )
    if path.name.endswith(".jsonl"):
        from rgym.runs.record import iter_events

        return Actions(
            (
                {"action": ev["action"], "thought": ev.get("thought", "")}
                for ev in iter_events(path)
                if ev.get("type") == "action"
            ),
            label=path.parent.name,
        )
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML/JSON: {e}") from None
    if isinstance(raw, dict) and "trajectory" in raw:
        raise ConfigError(f"{path}: looks like an MLGym trajectory; name it <task>.traj")
    if not isinstance(raw, list):
        raise ConfigError(
            f"{path}: expected a list of actions (strings or {{action, thought}}), an MLGym "
            ".traj or run folder, or an rgym run folder"
        )
    acts = Actions(label=path.name)
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

    def __init__(
        self, actions: list[dict[str, str]], label: str = "actions", window: int = MLGYM_WINDOW
    ):
        self.actions = actions
        self.source = getattr(actions, "source", None)
        """The MLGym trajectory replayed, when it is one (its recorded scores, its notes)."""
        self.model_name = actions.label if self.source is not None else label
        self.notes: list[str] = list(getattr(actions, "notes", []))
        self.tool_dirs = [tools_dir(window)]
        """Pass to ResearchEnv(tool_dirs=...) so the sandbox has the tools from the start."""

    def run(
        self, env, observation: str, info: dict[str, Any], *, on_step: StepCallback | None = None
    ) -> AgentStats:
        record = getattr(env, "record", None)
        if getattr(env, "sandbox", None) is not None and install(env, self.tool_dirs[0]):
            if record is not None:
                record.event("note", message=INSTALLED)
        if record is not None:
            if self.source is not None:
                record.event("note", message=self.source.summary())
            else:
                for note in self.notes:
                    record.event("note", message=note)
        for n, item in enumerate(self._restores(env) + list(self.actions), 1):
            if item.get("thought") and record is not None:
                record.event("thought", step=n, thought=item["thought"])
            if item.get("end"):
                env.exhaust(item["end"])
                break
            action = item["action"] if item.get("raw") else guard_text_commands(item["action"])[0]
            observation, _, terminated, truncated, info = env.step(action)
            if on_step:
                on_step(n, action, observation, info)
            if terminated or truncated:
                break
        return AgentStats()

    def _restores(self, env) -> list[dict[str, str]]:
        """For an MLGym trajectory: one action writing the files its agent saw whole before its
        first edit back to what it saw, so that its edits' line numbers name the same lines and
        an edit aimed at a file rgym's task lacks (MLGym's evaluate.py) lands there as it did
        (see rgym.runs.mlgym_traj)."""
        views = restorable(self.source.views) if self.source is not None else {}
        if not views:
            return []
        note = (
            "written as MLGym's agent first saw them, so that its edits name the same lines: "
            + (", ".join(f"{p} ({len(lines)} lines, step {n})" for p, (n, lines) in views.items()))
        )
        if getattr(env, "record", None) is not None:
            env.record.event("note", message=note)
        action = "\n".join(restore_action(p, lines) for p, (_, lines) in views.items())
        return [{"action": action, "thought": note, "raw": "1"}]
