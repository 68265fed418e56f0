"""Shared fixtures: every test session gets its own data cache, so tests never touch ~/.cache."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session", autouse=True)
def rgym_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("rgym-cache")
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
