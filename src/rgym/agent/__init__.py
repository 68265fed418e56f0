"""Agents: anything that turns observations into actions until the episode ends."""

from rgym.agent.base import Agent, AgentStats, StepCallback
from rgym.agent.replay import ReplayAgent, load_actions

__all__ = ["Agent", "AgentStats", "ReplayAgent", "StepCallback", "load_actions"]
