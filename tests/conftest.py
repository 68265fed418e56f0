"""Shared fixtures: every test session gets its own data cache, so tests never touch ~/.cache."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from rgym.tasks.baselines import _measuring

USER_CACHE = Path(os.environ.get("RGYM_CACHE") or Path.home() / ".cache" / "rgym")
"""The user's own rgym cache, before the session swaps in its own: tests may read files rgym
keeps there (a downloaded archive, checked again when used), never the data or the key."""

TEST_KEY = bytes(range(7, 39))
"""The test suite's installation key (32 bytes): secret mode, deterministic across sessions."""


@pytest.fixture(scope="session", autouse=True)
def rgym_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("rgym-cache")
    # a fixed installation key, so the secret test sets (and every score on them) are the same
    # in every session; tests about the key itself make caches of their own
    key = cache / "key"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, TEST_KEY)
    os.close(fd)
    old = os.environ.get("RGYM_CACHE")
    os.environ["RGYM_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("RGYM_CACHE", None)
    else:
        os.environ["RGYM_CACHE"] = old


requires_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed"
)


def agent_workspace(path):
    """An empty folder the sandbox's user (uid 65534 when rgym runs as root) can write."""
    path.mkdir()
    path.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


def bwrap_sandbox(workspace, memory_mb=512):
    """A bare bwrap episode sandbox over `workspace` with small limits (close it after use)."""
    from rgym.sandbox import (
        WORKSPACE,
        EpisodeSandbox,
        LaunchSpec,
        Mount,
        SandboxLimits,
        get_backend,
    )

    limits = SandboxLimits(memory_mb=memory_mb, pids=64, cpus=1.0)
    return EpisodeSandbox(
        get_backend("bwrap"),
        LaunchSpec(argv=[], mounts=[Mount(workspace, WORKSPACE, True)], limits=limits),
    )


@contextmanager
def unmeasured():
    """An episode that does not measure the task's baseline and reference first (what
    `episode_scores` does while a measurement runs): for tests about the sandbox, not the score,
    of training tasks whose measurement trains models."""
    token = _measuring.set(True)
    try:
        yield
    finally:
        _measuring.reset(token)
