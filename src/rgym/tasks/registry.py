"""Finds tasks: the built-in catalogue and user folders; registers them with gymnasium.

Where tasks come from: the built-in catalogue, then the folders in `RGYM_TASKS_DIR`, then the
`--tasks-dir` folders. A folder may hold rgym tasks (`*/task.yaml`, or be one task folder) and
MLGym task YAMLs: pointed at an MLGym checkout (its root, `configs/` or `configs/tasks/`), every
task YAML there is imported in place, under MLGym's own id in the `mlgym/` namespace
(`mlgym/battleOfSexes`), so an import never shadows a built-in.

An id names one task. When two files declare the same id, the id is an error that names both
files (asking for it fails; `rgym tasks` leaves it out and says why); run either by its path.

How a task is named (`get_task`): a bare id resolves to a known task only, never to a folder
that happens to be in the current directory; a path must look like one (contain `/`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Container
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from rgym.errors import RgymError, TaskNotFound, TaskSpecError
from rgym.tasks.spec import TaskSpec, is_mlgym_task, load_task

CATALOG = Path(__file__).parent / "catalog"
log = logging.getLogger("rgym.tasks")


def _roots(extra: list[Path] | None) -> list[Path]:
    roots = [CATALOG]
    env = os.environ.get("RGYM_TASKS_DIR")
    if env:
        roots += [Path(p) for p in env.split(os.pathsep) if p]
    roots += [Path(p) for p in extra or []]
    return roots


@lru_cache(maxsize=1024)
def _raw(path: Path, mtime: float) -> dict | None:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    return raw if isinstance(raw, dict) else None


def _read_raw(path: Path) -> dict | None:
    try:
        return _raw(path, path.stat().st_mtime)
    except OSError:
        return None


def _is_mlgym_file(path: Path) -> bool:
    raw = _read_raw(path)
    return raw is not None and is_mlgym_task(raw)


def task_dirs(extra: list[Path] | None = None) -> list[Path]:
    """rgym tasks: folders holding a task.yaml (or rgym task YAMLs) from the catalogue,
    RGYM_TASKS_DIR, then `extra`. MLGym task YAMLs are found by `mlgym_task_files`."""
    found: list[Path] = []
    for root in _roots(extra):
        if (root / "task.yaml").is_file():
            found.append(root)
        elif root.is_dir():
            found += sorted(p.parent for p in root.glob("*/task.yaml"))
            found += sorted(
                p for p in root.glob("*.yaml") if p.name != "task.yaml" and not _is_mlgym_file(p)
            )
    return found


def mlgym_task_files(extra: list[Path] | None = None) -> list[Path]:
    """MLGym task YAMLs under the task roots: a checkout's `configs/tasks/*.yaml` (pointed at
    the root, `configs/` or `configs/tasks/`), or MLGym YAMLs directly in a folder, or a file."""
    found: list[Path] = []
    for root in _roots(extra):
        if root == CATALOG:
            continue
        if root.is_file():
            cands = [root]
        elif (root / "configs" / "tasks").is_dir():
            cands = sorted((root / "configs" / "tasks").glob("*.yaml"))
        elif root.name == "configs" and (root / "tasks").is_dir():
            cands = sorted((root / "tasks").glob("*.yaml"))
        elif root.is_dir():
            cands = sorted(root.glob("*.yaml"))
        else:
            cands = []
        for c in cands:
            c = c.resolve()
            if c not in found and _is_mlgym_file(c):
                found.append(c)
    return found


@lru_cache(maxsize=256)
def _load(path: Path, mtime: float) -> TaskSpec:
    return load_task(path)


@dataclass
class Catalogue:
    """Every task the roots hold, by id; `problems` holds the ids (or files) that cannot be
    used, with the error asking for them raises."""

    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    problems: dict[str, RgymError] = field(default_factory=dict)


def _file_of(d: Path) -> Path:
    return (d / "task.yaml" if d.is_dir() else d).resolve()


def scan(extra: list[Path] | None = None) -> Catalogue:
    """Load every task under the roots. rgym tasks that fail to load raise (as always); MLGym
    YAMLs that fail to load, and duplicate ids, become `problems`."""
    cat = Catalogue()
    dups: dict[str, list[Path]] = {}

    def add(spec: TaskSpec, file: Path) -> None:
        if spec.id in cat.files and cat.files[spec.id] != file:
            dups.setdefault(spec.id, [cat.files[spec.id]]).append(file)
            return
        cat.tasks[spec.id] = spec
        cat.files[spec.id] = file

    for d in task_dirs(extra):
        f = _file_of(d)
        add(_load(d, f.stat().st_mtime), f)
    for f in mlgym_task_files(extra):
        try:
            spec = _load(f, f.stat().st_mtime)
        except RgymError as e:
            raw = _read_raw(f) or {}
            key = f"mlgym/{raw['id']}" if raw.get("id") else str(f)
            if key in cat.problems or key in cat.files:
                key = str(f)
            cat.problems[key] = e
            continue
        add(spec, f)
    for tid, files in dups.items():
        del cat.tasks[tid]
        first, *others = files
        cat.problems[tid] = TaskSpecError(
            str(others[0]),
            "id",
            f"{tid!r} is also the id of {first}"
            + (f" (and of {', '.join(map(str, others[1:]))})" if others[1:] else "")
            + "; an id must name one task. Run one of them by its path, e.g. "
            f"`rgym run {others[0]}`",
        )
    _register(cat)
    return cat


def _register(cat: Catalogue) -> None:
    """Make every task loaded from a tasks dir (not the catalogue) gymnasium.make-able under its
    `gym_id` (`mlgym/<id>` for imports)."""
    try:
        import gymnasium
        from gymnasium.envs.registration import WrapperSpec
    except ImportError:  # pragma: no cover - gymnasium is a dependency
        return
    budget = WrapperSpec(
        name="StepBudgetFromTimeLimit", entry_point="rgym.env:StepBudgetFromTimeLimit", kwargs={}
    )
    for tid, spec in cat.tasks.items():
        file = cat.files[tid]
        if spec.root is not None and CATALOG in file.parents:
            continue  # register_builtin's
        gid = spec.gym_id
        old = gymnasium.registry.get(gid)
        if old is not None and old.kwargs.get("task") == str(file):
            continue
        if old is not None:
            del gymnasium.registry[gid]  # the same id now comes from another file
        gymnasium.register(
            gid,
            entry_point="rgym.env:ResearchEnv",
            kwargs={"task": str(file)},
            max_episode_steps=None,
            additional_wrappers=(budget,),
        )


def task_problems(extra: list[Path] | None = None) -> dict[str, RgymError]:
    """Ids (or files) under the roots that cannot be used, and why."""
    return scan(extra).problems


def all_tasks(extra: list[Path] | None = None) -> dict[str, TaskSpec]:
    """Every usable task by id. Unusable MLGym YAMLs and duplicate ids are left out and logged
    (`task_problems` lists them)."""
    cat = scan(extra)
    for key, err in cat.problems.items():
        log.warning("task %s left out: %s", key, err)
    return cat.tasks


def resolve_id(task_id: str, known: Container[str]) -> str | None:
    """The id among `known` that a name refers to: an id, `rgym/<id>` or `rgym/<id>-vN`; never
    a path (for names that come from outside, e.g. a client of `rgym serve`)."""
    for tid in (task_id, task_id.removeprefix("rgym/")):
        if tid in known:
            return tid
        base, _, version = tid.rpartition("-v")
        if version.isdigit() and base in known:
            return base
    return None


def _lookup(task_id: str, cat: Catalogue) -> str | None:
    """The catalogue id a name refers to (usable or not)."""
    return resolve_id(task_id, {**cat.tasks, **cat.problems})


def get_task(task_id: str, extra: list[Path] | None = None, *, check: bool = True) -> TaskSpec:
    """A task by id (`titanic`, `mlgym/battleOfSexes`, `rgym/titanic-v0`) or by path.

    A bare id resolves to a known task only: a folder named like it in the current directory is
    never loaded (it could be anyone's, and loading a task runs its data recipe). A path must
    look like one: it contains `/` (`./titanic`, `/x/configs/tasks/blotto.yaml`).

    With `check`, a task imported from MLGym is checked before it is handed out: a missing
    package (named with its install command), GPU or dataset stops it here, before any episode.

    Raises:
        TaskNotFound: no such id, and not a path.
        TaskSpecError: the id is declared twice (both files named), or its file is malformed.
        TaskUnavailable: an imported task cannot run on this machine (`check`).
    """
    cat = scan(extra)
    tid = _lookup(task_id, cat)
    spec: TaskSpec | None = None
    if tid is not None:
        if tid in cat.problems:
            raise cat.problems[tid]
        spec = cat.tasks[tid]
    elif "/" in task_id or os.sep in task_id:
        p = Path(task_id)
        if p.is_dir() or (p.is_file() and p.suffix in (".yaml", ".yml")):
            spec = load_task(p)
            if spec.mlgym is not None:
                _register(Catalogue({spec.id: spec}, {spec.id: _file_of(p)}))
    if spec is None:
        raise TaskNotFound(task_id, list(cat.tasks))
    if check and spec.mlgym is not None:
        from rgym.tasks.mlgym_data import preflight

        preflight(spec)
    return spec


def register_builtin() -> None:
    """Register every built-in task with gymnasium as `rgym/<id>-v<version>` (cheap: reads YAML).

    Gymnasium's passive env checker stays on. No `max_episode_steps` is registered: rgym's own
    step budget (the task's, or `Budget.max_steps`) ends an episode and grades it. A
    `max_episode_steps=N` given to `gymnasium.make` becomes that step budget through the
    `StepBudgetFromTimeLimit` wrapper, so the step where `TimeLimit` truncates is graded too.
    """
    import gymnasium
    from gymnasium.envs.registration import WrapperSpec

    budget = WrapperSpec(
        name="StepBudgetFromTimeLimit", entry_point="rgym.env:StepBudgetFromTimeLimit", kwargs={}
    )
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
                max_episode_steps=None,
                additional_wrappers=(budget,),
            )
