"""Shared fixtures: every test session gets its own data cache, so tests never touch ~/.cache."""

from __future__ import annotations

import os
import shutil

import pytest

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
