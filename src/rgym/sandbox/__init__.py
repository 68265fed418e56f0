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
from rgym.sandbox.storage import EpisodeStorage, make_episode_storage

BACKENDS = {"bwrap": "rgym.sandbox.bwrap:BwrapBackend", "local": "rgym.sandbox.local:LocalBackend"}


def get_backend(name: str = "bwrap") -> Backend:
    """Instantiate a backend by name; only the chosen backend's module is imported.

    The first backend a process makes also removes what crashed rgym processes left behind
    (scratch folders, episode mounts, cgroups; see `scratch.reap_stale`)."""
    import importlib

    from rgym.sandbox import scratch

    try:
        target = BACKENDS[name]
    except KeyError:
        raise ConfigError(
            f"unknown sandbox {name!r}; choose one of {', '.join(BACKENDS)}"
        ) from None
    module, cls = target.split(":")
    backend = getattr(importlib.import_module(module), cls)()
    scratch.reap_stale()
    return backend


__all__ = [
    "AGENT_HOME",
    "WORKSPACE",
    "Backend",
    "EpisodeSandbox",
    "EpisodeStorage",
    "ExecResult",
    "LaunchSpec",
    "Mount",
    "SandboxLimits",
    "get_backend",
    "make_episode_storage",
]
