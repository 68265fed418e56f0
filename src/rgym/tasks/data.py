"""Data recipes: run a task's prepare(), cache the splits, checksum them, record their licence.

A task folder's `prepare.py` defines
`prepare(public, private, *, seed, variant, secret_seed, **options)`: it writes what the agent may
see into `public/` (mounted read-only at workspace/data) and what only graders may see into
`private/` (answers, dev/test labels, opponent seeds). The result is cached under `$RGYM_CACHE`
(default ~/.cache/rgym) by a key over everything that shapes the data, so a changed recipe is
never served stale.

`seed` is the task's public seed (task.yaml): use it for what the agent may know anyway (the
training data). Whatever decides a dev or test score (instances, simulation seeds, which rows are
dev and which test) must come from `secret_seed(purpose, public)`: in the default `secret` seed
mode it is derived from this installation's private key (rgym.tasks.secret), in `public` mode it
returns `public`, the value the recipe would use with public seeds, so published numbers
reproduce exactly. A recipe that takes no `secret_seed` gets, in secret mode, a secret `seed`
for all of its data.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rgym.errors import DataUnavailable
from rgym.tasks.secret import Secrets, SeedMode, check_mode
from rgym.tasks.spec import TaskSpec


def cache_root() -> Path:
    return Path(os.environ.get("RGYM_CACHE") or Path.home() / ".cache" / "rgym")


@dataclass(frozen=True)
class PreparedData:
    public: Path
    private: Path
    info: dict
    secrets: Secrets | None = field(default=None, repr=False, compare=False)

    @property
    def seed_provenance(self) -> dict:
        """{"seed_mode": "secret"|"public", "key_fingerprint": str|None}: what a result's
        integrity block records about the seeds that made this data."""
        return seed_provenance(self)

    def grader_seed(self, split: str) -> int:
        """The `--seed` a grader gets for `split`: derived from the installation key in secret
        mode (an opponent's randomness at test time), the task's seed in public mode."""
        secrets = self.secrets
        if secrets is None:  # made by hand: rebuild from the record
            info = self.info
            secrets = Secrets.for_task(
                info["task"], int(info["seed"]), info.get("seed_mode", "secret"), cache_root()
            )
            if secrets.fingerprint != info.get("key_fingerprint"):
                raise DataUnavailable(
                    f"the key in {cache_root()} is not the one this data was prepared with "
                    f"({info.get('key_fingerprint')}); prepare the data again"
                )
        return secrets.grader_seed(split)


def seed_provenance(data: PreparedData) -> dict:
    """The seed mode and key fingerprint of prepared data (for result.json's integrity block)."""
    return {
        "seed_mode": data.info.get("seed_mode"),
        "key_fingerprint": data.info.get("key_fingerprint"),
    }


def _key(spec: TaskSpec, variant: str, secrets: Secrets) -> str:
    h = hashlib.sha256()
    opts = spec.variant(variant).data
    h.update(
        json.dumps(
            [spec.id, spec.version, variant, spec.seed, opts, secrets.mode, secrets.fingerprint],
            sort_keys=True,
        ).encode()
    )
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


def _seed_arguments(prepare, spec: TaskSpec, secrets: Secrets) -> dict:
    """`seed` and `secret_seed` for a recipe: the public seed plus the secret-seed function when
    the recipe takes one; otherwise, in secret mode, a secret seed for all of its data."""
    if "secret_seed" in inspect.signature(prepare).parameters:
        return {"seed": spec.seed, "secret_seed": secrets.seed_for}
    seed = secrets.seed_for("recipe seed", spec.seed)
    return {"seed": seed}


def _provenance(spec: TaskSpec, secrets: Secrets) -> dict:
    return {
        "task": spec.id,
        "seed": spec.seed,
        "seed_mode": secrets.mode,
        "key_fingerprint": secrets.fingerprint,
    }


def prepare_data(
    spec: TaskSpec,
    variant: str = "default",
    *,
    force: bool = False,
    seed_mode: SeedMode | str = "secret",
) -> PreparedData:
    """Prepared splits for a task variant, from the cache or made now.

    `seed_mode` "secret" (default) derives everything that decides a score from the
    installation key; "public" uses the task's public seed (exactly reproducible numbers).
    The two are cached apart, and so are the data of different keys."""
    root = cache_root()
    secrets = Secrets.for_task(spec.id, spec.seed, check_mode(seed_mode), root)
    if not spec.data.recipe:
        empty = root / "data" / "_empty"
        (empty / "public").mkdir(parents=True, exist_ok=True)
        (empty / "private").mkdir(parents=True, exist_ok=True)
        info = {**_provenance(spec, secrets), "variant": variant, "public": {}, "private": {}}
        return PreparedData(empty / "public", empty / "private", info, secrets)
    target = root / "data" / spec.id / f"{variant}-{secrets.mode}-{_key(spec, variant, secrets)}"
    info_file = target / "data.json"
    if info_file.exists() and not force:
        info = json.loads(info_file.read_text())
        return PreparedData(target / "public", target / "private", info, secrets)
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
                variant=variant,
                **_seed_arguments(prepare, spec, secrets),
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
            "seed_mode": secrets.mode,
            "key_fingerprint": secrets.fingerprint,
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
    return PreparedData(target / "public", target / "private", info, secrets)
