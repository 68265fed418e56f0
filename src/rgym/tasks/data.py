"""Data recipes: run a task's prepare(), cache the splits, checksum them, record their licence.

A task folder's `prepare.py` defines `prepare(public, private, *, seed, variant, **options)`: it
writes what the agent may see into `public/` (mounted read-only at workspace/data) and what only
graders may see into `private/` (answers, dev/test labels, opponent seeds). The result is cached
under `$RGYM_CACHE` (default ~/.cache/rgym) by a key over everything that shapes the data, so a
changed recipe is never served stale.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rgym.errors import DataUnavailable
from rgym.tasks.spec import TaskSpec


def cache_root() -> Path:
    return Path(os.environ.get("RGYM_CACHE") or Path.home() / ".cache" / "rgym")


@dataclass(frozen=True)
class PreparedData:
    public: Path
    private: Path
    info: dict


def _key(spec: TaskSpec, variant: str) -> str:
    h = hashlib.sha256()
    opts = spec.variant(variant).data
    h.update(json.dumps([spec.id, spec.version, variant, spec.seed, opts], sort_keys=True).encode())
    if spec.data.recipe:
        h.update(spec.path(spec.data.recipe).read_bytes())
    return h.hexdigest()[:16]


def checksums(folder: Path) -> dict[str, str]:
    out = {}
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            out[str(f.relative_to(folder))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def _load_recipe(spec: TaskSpec):
    path = spec.path(spec.data.recipe)
    mod_spec = importlib.util.spec_from_file_location(
        f"rgym_recipe_{spec.id.replace('-', '_')}", path
    )
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except ModuleNotFoundError as e:
        raise DataUnavailable(
            f"task {spec.id!r}: its data recipe {path} needs the Python package {e.name!r}, which "
            f"is not installed. Install it (`pip install {e.name}`) and run "
            f"`rgym data prepare {spec.id}` again."
        ) from None
    if not hasattr(module, "prepare"):
        raise DataUnavailable(f"{path} defines no prepare(public, private, *, seed, variant, ...)")
    return module.prepare


def prepare_data(spec: TaskSpec, variant: str = "default", *, force: bool = False) -> PreparedData:
    """Prepared splits for a task variant, from the cache or made now."""
    target = cache_root() / "data" / spec.id / f"{variant}-{_key(spec, variant)}"
    if not spec.data.recipe:
        empty = cache_root() / "data" / "_empty"
        (empty / "public").mkdir(parents=True, exist_ok=True)
        (empty / "private").mkdir(parents=True, exist_ok=True)
        return PreparedData(empty / "public", empty / "private", {})
    info_file = target / "data.json"
    if info_file.exists() and not force:
        return PreparedData(
            target / "public", target / "private", json.loads(info_file.read_text())
        )
    prepare = _load_recipe(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{variant}-", dir=target.parent))
    try:
        (tmp / "public").mkdir()
        (tmp / "private").mkdir()
        start = time.monotonic()
        try:
            prepare(
                tmp / "public",
                tmp / "private",
                seed=spec.seed,
                variant=variant,
                **spec.variant(variant).data,
            )
        except ModuleNotFoundError as e:
            raise DataUnavailable(
                f"task {spec.id!r} needs the Python package {e.name!r} to prepare its data; "
                f"install it (`pip install {e.name}`) and run `rgym data prepare {spec.id}`."
            ) from None
        except (FileNotFoundError, DataUnavailable) as e:
            raise DataUnavailable(f"task {spec.id!r}: preparing its data failed: {e}") from None
        info = {
            "task": spec.id,
            "version": spec.version,
            "variant": variant,
            "seed": spec.seed,
            "source": spec.data.source,
            "licence": spec.data.licence,
            "seconds": round(time.monotonic() - start, 3),
            "public": checksums(tmp / "public"),
            "private": checksums(tmp / "private"),
        }
        (tmp / "data.json").write_text(json.dumps(info, indent=1))
        for d in [tmp, *tmp.rglob("*")]:
            d.chmod(0o755 if d.is_dir() else 0o644)
        if force and target.exists():
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:  # another process prepared it first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PreparedData(target / "public", target / "private", info)
