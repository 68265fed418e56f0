"""Finds tasks: the built-in catalogue and user folders; registers them with gymnasium."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

from rgym.errors import TaskNotFound
from rgym.tasks.spec import TaskSpec, load_task

CATALOG = Path(__file__).parent / "catalog"


def task_dirs(extra: list[Path] | None = None) -> list[Path]:
    """Folders holding a task.yaml: the catalogue, RGYM_TASKS_DIR, then `extra` (later wins)."""
    roots = [CATALOG]
    env = os.environ.get("RGYM_TASKS_DIR")
    if env:
        roots += [Path(p) for p in env.split(os.pathsep) if p]
    roots += list(extra or [])
    found: list[Path] = []
    for root in roots:
        root = Path(root)
        if (root / "task.yaml").is_file():
            found.append(root)
        elif root.is_dir():
            found += sorted(p.parent for p in root.glob("*/task.yaml"))
            found += sorted(p for p in root.glob("*.yaml") if p.name != "task.yaml")
    return found


@lru_cache(maxsize=256)
def _load(path: Path, mtime: float) -> TaskSpec:
    return load_task(path)


def all_tasks(extra: list[Path] | None = None) -> dict[str, TaskSpec]:
    tasks: dict[str, TaskSpec] = {}
    for d in task_dirs(extra):
        f = d / "task.yaml" if d.is_dir() else d
        spec = _load(d, f.stat().st_mtime)
        tasks[spec.id] = spec
    return tasks


def get_task(task_id: str, extra: list[Path] | None = None) -> TaskSpec:
    """A task by id, by folder path, or by `rgym/<id>-vN` gymnasium id."""
    if Path(task_id).exists() and (Path(task_id).is_dir() or task_id.endswith((".yaml", ".yml"))):
        return load_task(task_id)
    tid = task_id.removeprefix("rgym/")
    tasks = all_tasks(extra)
    if tid in tasks:
        return tasks[tid]
    base, _, version = tid.rpartition("-v")
    if base in tasks and version.isdigit():
        return tasks[base]
    raise TaskNotFound(task_id, list(tasks))


def register_builtin() -> None:
    """Register every built-in task with gymnasium as `rgym/<id>-v<version>` (cheap: reads YAML)."""
    import gymnasium

    for d in task_dirs():
        f = d / "task.yaml" if d.is_dir() else d
        try:
            raw = yaml.safe_load(f.read_text())
            gid = f"rgym/{raw['id']}-v{int(raw.get('version', 0))}"
        except Exception:
            continue  # a broken user task must not break `import rgym`; `rgym tasks` reports it
        if gid not in gymnasium.registry:
            gymnasium.register(
                gid,
                entry_point="rgym.env:ResearchEnv",
                kwargs={"task": str(d)},
                disable_env_checker=True,
            )
