"""Model backends: LiteLLM (any provider, or a local OpenAI-compatible server), replay, scripted;
and the ledger every call goes through. litellm itself is imported only when a LiteLLMModel is
built."""

from rgym.models.base import Model, ModelError, ModelResponse, ToolCall, estimate_tokens
from rgym.models.ledger import Ledger, RetryPolicy
from rgym.models.litellm import LiteLLMConfig, LiteLLMModel
from rgym.models.replay import ReplayModel
from rgym.models.scripted import ScriptedConfig, ScriptedModel

__all__ = [
    "Ledger",
    "LiteLLMConfig",
    "LiteLLMModel",
    "Model",
    "ModelError",
    "ModelResponse",
    "ReplayModel",
    "RetryPolicy",
    "ScriptedConfig",
    "ScriptedModel",
    "ToolCall",
    "estimate_tokens",
]
