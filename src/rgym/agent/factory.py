"""Builds the default agent from a RunConfig; fails fast, before any run directory exists.

`config.model` picks the model: `replay:<path>` replays an earlier run (its directory or
events.jsonl), an MLGym .traj or a YAML/JSON list of replies; anything else is a LiteLLM model
string (with `agent_options["api_base"]`, a bare name means `openai/<name>`). `agent_options`
is validated as `rgym.agent.config.AgentConfig` (its fields are the documented keys).
"""

from __future__ import annotations

from pydantic import ValidationError

from rgym.agent.config import AgentConfig
from rgym.agent.loop import DefaultAgent
from rgym.errors import ConfigError


def agent_config(options: dict) -> AgentConfig:
    try:
        return AgentConfig.model_validate(options or {})
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'agent_options'}: {err['msg']}"
            for err in e.errors()
        )
        keys = ", ".join(AgentConfig.model_fields)
        raise ConfigError(f"bad agent options: {problems}. Valid keys: {keys}") from None


def make_default_agent(config) -> DefaultAgent:
    """The LLM research agent for `config` (a RunConfig).

    Raises:
        ConfigError: no model given, an unknown model or provider, a missing API key, or bad
            agent_options; the message says what to set.
    """
    options = agent_config(config.agent_options)
    if not config.model:
        raise ConfigError(
            "the default agent needs a model: pass --model (for example "
            "openai/gpt-4o, anthropic/claude-3-5-sonnet-20240620, or a model name "
            "with --api-base http://localhost:8000/v1 for a local server)"
        )
    if config.model.startswith("replay:"):
        from rgym.models.replay import ReplayModel

        return DefaultAgent(ReplayModel(config.model.removeprefix("replay:")), options)
    from rgym.models.litellm import LiteLLMConfig, LiteLLMModel

    model = LiteLLMModel(LiteLLMConfig(model=config.model, **options.model_fields_for_litellm()))
    return DefaultAgent(model, options)
