"""Grading for tasks imported from MLGym task YAMLs: the task's own evaluate script runs in a copy
of the workspace whose evaluation and secret files come from the task folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rgym.sandbox import LaunchSpec, Mount
from rgym.tasks.spec import TaskSpec


def parse_mlgym(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                metrics = json.loads(line.replace("'", '"'))
            except json.JSONDecodeError:
                continue
            return {
                "metrics": {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}
            }
    return None


def mlgym_launch(spec, workspace, tmp, data, script, limits, backend) -> LaunchSpec:
    """An MLGym evaluate.py runs in a copy of the workspace whose evaluation and secret files come
    from the task folder, never from the agent (secret files land at the workspace root)."""
    work = tmp / "workspace"
    shutil.copytree(workspace, work, symlinks=True)
    extras = spec.mlgym
    for rel in [
        *(extras.evaluation_paths if extras else [script]),
        *(extras.secret_files if extras else []),
    ]:
        src = mlgym_source(spec, rel)
        dst = work / Path(rel).name
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dst)
    for p in [work, *work.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o777 if p.is_dir() else 0o666)
    mount = Mount(work, "/home/agent/workspace", True)
    return LaunchSpec(
        argv=[backend.python(), Path(script).name],
        mounts=[mount],
        limits=limits,
        cwd="/home/agent/workspace",
    )


def mlgym_source(spec: TaskSpec, rel: str) -> Path:
    """MLGym names evaluation files by their workspace path and ships them among starter_code
    (paths from its repo root); find the task folder's own copy."""
    direct = spec.path(rel)
    if direct.exists() or spec.mlgym is None:
        return direct
    for starter in spec.mlgym.starter_code:
        if Path(starter).name == Path(rel).name and spec.path(starter).exists():
            return spec.path(starter)
    return direct
