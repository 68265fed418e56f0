"""Expand a spec into cells with deterministic run ids, and keep the batch's manifest.

A cell is one run of the matrix. Its run id is a readable prefix plus a hash of everything that
defines the run (its RunConfig), so the same spec always plans the same ids and `--resume`
finds its runs; a changed option is a different run.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from rgym.batch.job import Job, Slots
from rgym.batch.spec import BatchSpec, slot_cpus
from rgym.errors import ConfigError

MANIFEST = "batch.json"
SCHEMA_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Cell(BaseModel):
    """One run of the matrix, as batch.json lists it."""

    cell: str
    """Readable and unique in the batch: `<task>:<variant>/<agent>/s<seed>`."""
    run_id: str
    task: str
    """The task as the spec names it (what the run resolves)."""
    task_id: str
    """The task's catalogue id."""
    variant: str
    agent: str
    model: str | None
    label: str
    seed: int
    config: dict[str, Any]
    """The run's RunConfig as JSON, without runs_dir and run_id (the job sets them)."""
    slots: Slots

    def job(self, runs_dir: Path, attempt: int) -> Job:
        return Job(
            run_id=self.run_id,
            cell=self.cell,
            attempt=attempt,
            config=self.config,
            runs_dir=str(runs_dir),
            slots=self.slots,
        )


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_") or "x"


def plan_cells(spec: BatchSpec, tasks: dict[tuple[str, str], Any]) -> list[Cell]:
    """The matrix in the order it runs: seed by seed, so a stopped batch has whole passes.

    `tasks` maps each (task, variant) entry to its TaskSpec (see `check_matrix`)."""
    from rgym.runs.runner import RunConfig

    cells: list[Cell] = []
    for seed in spec.seeds:
        for agent in spec.agents:
            for entry in spec.tasks:
                task = tasks[(entry.id, entry.variant)]
                res = task.variant(entry.variant).resources
                override = spec.run_resources(entry)
                config = RunConfig(
                    task=entry.id,
                    variant=entry.variant,
                    sandbox=spec.sandbox,
                    agent=str(agent.agent),
                    model=agent.model,
                    actions=agent.actions,
                    seed=seed,
                    seed_mode=spec.seed_mode,
                    max_disk_mb=override.disk_mb,
                    cpus=override.cpus,
                    budget=agent.budget,
                    tasks_dirs=spec.tasks_dirs,
                    agent_options=agent.options,
                )
                digest = config.config_hash()[:8]
                run_id = "__".join(
                    (
                        _slug(task.id),
                        _slug(entry.variant),
                        _slug(agent.who),
                        f"s{seed}",
                        digest,
                    )
                )
                cells.append(
                    Cell(
                        cell=f"{task.id}:{entry.variant}/{agent.who}/s{seed}",
                        run_id=run_id,
                        task=entry.id,
                        task_id=task.id,
                        variant=entry.variant,
                        agent=str(agent.agent),
                        model=agent.model,
                        label=agent.who,
                        seed=seed,
                        config=config.model_dump(mode="json", exclude={"runs_dir", "run_id"}),
                        slots=Slots(
                            cpus=slot_cpus(override.cpus or res.cpus),
                            memory_mb=res.memory_mb,
                            gpus=res.gpus,
                        ),
                    )
                )
    return cells


def write_json(path: Path, data: Any) -> None:
    """Write whole or not at all (a crash leaves the old file or none)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(out: Path) -> dict[str, Any] | None:
    path = Path(out) / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path} cannot be read as a batch manifest: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ConfigError(f"{path} is not a batch manifest (no 'cells' list)")
    return data


def open_batch(out: Path, spec: BatchSpec, cells: list[Cell], *, resume: bool) -> bool:
    """Write batch.json for a new batch, or check that `cells` are the batch already there.

    Returns True when the batch folder already held this batch (a resume).

    Raises:
        ConfigError: the folder holds something else, holds a batch and --resume was not
            given, or holds a batch with another matrix.
    """
    from rgym import __version__

    out = Path(out)
    old = read_manifest(out)
    if old is None:
        if out.exists() and any(out.iterdir()):
            raise ConfigError(
                f"{out} is not empty and holds no {MANIFEST}; give --out a new or empty folder"
            )
        out.mkdir(parents=True, exist_ok=True)
        write_json(
            out / MANIFEST,
            {
                "schema_version": SCHEMA_VERSION,
                "name": spec.name,
                "created": datetime.now(UTC).isoformat(),
                "rgym_version": __version__,
                "spec": spec.model_dump(mode="json"),
                "cells": [c.model_dump(mode="json") for c in cells],
            },
        )
        return False
    if not resume:
        raise ConfigError(
            f"{out} already holds batch {old.get('name')!r} ({len(old['cells'])} runs); pass "
            "--resume to continue it, or give --out a new folder"
        )
    _same_matrix(out, old, cells)
    return True


def _config_diff(was: dict[str, Any], now: dict[str, Any]) -> str:
    """The RunConfig fields that differ, as `field: old -> new` (run ids hash these)."""
    keys = sorted(k for k in set(was) | set(now) if k not in ("run_id", "runs_dir"))
    diffs = [f"{k}: {was.get(k)!r} -> {now.get(k)!r}" for k in keys if was.get(k) != now.get(k)]
    return "; ".join(diffs[:4]) or "no field differs; rgym's version may have changed"


def _same_matrix(out: Path, old: dict[str, Any], cells: list[Cell]) -> None:
    before = {c.get("run_id"): c for c in old["cells"] if isinstance(c, dict)}
    now = {c.run_id: c for c in cells}
    added = [now[r].cell for r in now if r not in before]
    removed = [str(before[r].get("cell", r)) for r in before if r not in now]
    if not added and not removed:
        return
    lines = []
    changed = sorted(set(added) & set(removed))
    changed_note = ""
    if changed:  # the same cell, configured differently: say what differs
        new = next(now[r] for r in now if r not in before and now[r].cell == changed[0])
        was = next(
            before[r] for r in before if r not in now and before[r].get("cell") == changed[0]
        )
        diff = _config_diff(was.get("config") or {}, new.config)
        changed_note = f" ({changed[0]}, for one, is configured differently: {diff})"
    if added:
        lines.append(f"{len(added)} run(s) not in it, e.g. {', '.join(added[:3])}")
    if removed:
        lines.append(f"{len(removed)} of its run(s) missing, e.g. {', '.join(removed[:3])}")
    raise ConfigError(
        f"{out / MANIFEST} was planned from another spec: this spec has "
        f"{'; and '.join(lines)}{changed_note}. A run's id comes from its task, variant, "
        "agent, model, options, budget, seed and CPU quota, so any change there is a new run. "
        "Resume with the spec that "
        "made the batch, or give --out a new folder. (Pool, retries and batch limits may change "
        "on --resume.)"
    )
