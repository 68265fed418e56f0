"""rgym: an open gym and benchmark for AI research agents.

import rgym
env = rgym.make("titanic")            # or gymnasium.make("rgym/titanic-v0") after `import rgym`
obs, info = env.reset(seed=0)
obs, reward, terminated, truncated, info = env.step("python baseline.py")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from rgym.env import ResearchEnv
    from rgym.tasks.spec import TaskSpec


def make(task_id: str, **kwargs: Any) -> ResearchEnv:
    """Build the environment for a task (by id, gymnasium id or folder)."""
    from rgym.env import ResearchEnv

    return ResearchEnv(task_id, **kwargs)


def spec(task_id: str) -> TaskSpec:
    """The TaskSpec of a task."""
    from rgym.tasks.registry import get_task

    return get_task(task_id)


def __getattr__(name: str) -> Any:
    lazy = {
        "ResearchEnv": "rgym.env",
        "ExitStatus": "rgym.env",
        "TaskSpec": "rgym.tasks.spec",
        "Budget": "rgym.budget",
        "RunConfig": "rgym.runs.runner",
        "RunResult": "rgym.runs.runner",
        "run": "rgym.runs.runner",
        "load_task": "rgym.tasks.spec",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(name)


def _register() -> None:
    try:
        from rgym.tasks.registry import register_builtin

        register_builtin()
    except ImportError:  # gymnasium missing: rgym.make still works
        pass


_register()

__all__ = [
    "Budget",
    "ExitStatus",
    "ResearchEnv",
    "RunConfig",
    "RunResult",
    "TaskSpec",
    "__version__",
    "load_task",
    "make",
    "run",
    "spec",
]
