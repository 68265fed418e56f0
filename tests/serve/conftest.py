"""Real `rgym serve` servers on 127.0.0.1 (uvicorn in a thread, a free port) over real bwrap
sandboxes, and a count of what episodes leave behind (processes, scratch folders)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TASK = "prisoners-dilemma"
VARIANT = "tiny"
TOKEN = "t0k3n-for-the-serve-tests-0123456789"
DEMO = [
    "cat strategy.py",
    "validate",
    "printf 'def row_strategy(history):\\n    return 1\\n' > strategy.py",
    "submit",
]
"""A short episode with a real reward: read, score on dev, switch to the reference strategy
(always defect), submit."""


@pytest.fixture(scope="session")
def server() -> Iterator[Any]:
    """One shared server with room for the concurrency tests (16 episodes)."""
    from rgym.serve.config import ServeConfig
    from rgym.serve.server import start_in_thread

    running = start_in_thread(ServeConfig(port=0, max_episodes=20))
    yield running
    running.stop()


@pytest.fixture
def start() -> Iterator[Callable[..., Any]]:
    """start(**ServeConfig fields) -> a server of its own, stopped after the test."""
    from rgym.serve.config import ServeConfig
    from rgym.serve.server import start_in_thread

    started = []

    def go(**fields: Any) -> Any:
        running = start_in_thread(ServeConfig(port=0, **fields))
        started.append(running)
        return running

    yield go
    for running in started:
        running.stop()


def descendants(pid: int | None = None) -> set[int]:
    """Every live process below `pid` (default: this test process), read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    root = os.getpid() if pid is None else pid
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def leftovers() -> tuple[int, int]:
    """(sandbox processes, scratch folders) this process holds now."""
    from rgym.sandbox.scratch import owner_dir

    return len(descendants()), len(list(owner_dir().iterdir()))


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
