"""The data recipe of every task imported from an MLGym task YAML (run by rgym's data loader).

Local datasets (`is_local: true`) are copied from the MLGym checkout into `public/`, which the
episode mounts read-only at `workspace/data`, as MLGym copies them to `workspace/data` and makes
them read-only. A file the task lists in `secret_files` goes to `private/` instead and is seen
by the grader only. Hugging Face datasets are fetched into `public/.hf` (the `datasets` cache
layout) here, before the episode: the sandbox has no network, so a dataset that cannot be
fetched stops the run now, by name.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rgym.errors import DataUnavailable


def prepare(
    public: Path,
    private: Path,
    *,
    seed: int,
    variant: str,
    repo_root: str = "",
    datasets: list | None = None,
    secret_files: list | None = None,
    fingerprint: str = "",
    **_: object,
) -> None:
    root = Path(repo_root)
    secrets = {str(Path(s)) for s in secret_files or []}
    for d in datasets or []:
        if d["is_local"]:
            src = root / d["data_path"]
            if not src.is_dir():
                raise DataUnavailable(
                    f"local dataset {d['name']!r}: {src} does not exist (named by {d['config']})"
                )
            for f in sorted(src.rglob("*")):
                if not f.is_file() or f.is_symlink():
                    continue
                rel = f.relative_to(src)
                secret = str(Path(d["data_path"]) / rel) in secrets
                dst = (private if secret else public) / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, dst)
        else:
            _fetch_hf(d, public / ".hf")


def _fetch_hf(d: dict, cache: Path) -> None:
    name = d["data_path"]
    try:
        import datasets
    except ImportError:
        raise DataUnavailable(
            f"the Hugging Face dataset {name!r} ({d['name']}) needs the package `datasets` "
            "(`pip install datasets`)"
        ) from None
    try:
        datasets.load_dataset(name, cache_dir=str(cache))
    except Exception as e:  # offline, unknown repo, auth: all mean "not available here"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise DataUnavailable(
            f"the Hugging Face dataset {name!r} ({d['name']}, {d['config']}) could not be "
            f"fetched: {first}. The episode's sandbox has no network, so rgym fetches it "
            "beforehand; connect this machine to the internet (or fill the Hugging Face cache) "
            "and run again"
        ) from None
