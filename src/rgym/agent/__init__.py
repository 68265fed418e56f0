"""Agents: anything that turns observations into actions until the episode ends.

`DefaultAgent` (the LLM research agent), `AgentConfig` and `make_default_agent` are imported on
first use, so importing rgym.agent stays cheap."""

from rgym.agent.base import Agent, AgentStats, StepCallback
from rgym.agent.replay import ReplayAgent, load_actions

_LAZY = {
    "DefaultAgent": "rgym.agent.loop",
    "AgentConfig": "rgym.agent.config",
    "make_default_agent": "rgym.agent.factory",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rgym.agent' has no attribute {name!r}")


__all__ = [
    "Agent",
    "AgentConfig",
    "AgentStats",
    "DefaultAgent",
    "ReplayAgent",
    "StepCallback",
    "load_actions",
    "make_default_agent",
]
