"""Sandbox backends: `bwrap` (default on Linux) and `local` (no isolation, explicit opt-in)."""

from __future__ import annotations

from rgym.errors import ConfigError
from rgym.sandbox.base import (
    AGENT_HOME,
    WORKSPACE,
    Backend,
    EpisodeSandbox,
    ExecResult,
    LaunchSpec,
    Mount,
    SandboxLimits,
)

BACKENDS = {"bwrap": "rgym.sandbox.bwrap:BwrapBackend", "local": "rgym.sandbox.local:LocalBackend"}


def get_backend(name: str = "bwrap") -> Backend:
    """Instantiate a backend by name; only the chosen backend's module is imported."""
    import importlib

    try:
        target = BACKENDS[name]
    except KeyError:
        raise ConfigError(
            f"unknown sandbox {name!r}; choose one of {', '.join(BACKENDS)}"
        ) from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()


__all__ = [
    "AGENT_HOME",
    "WORKSPACE",
    "Backend",
    "EpisodeSandbox",
    "ExecResult",
    "LaunchSpec",
    "Mount",
    "SandboxLimits",
    "get_backend",
]
