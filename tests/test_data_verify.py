"""Data recipes fail helpfully; `rgym verify` fails loudly when a reference stops beating its
baseline."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import pytest

from rgym.errors import ConfigError, DataUnavailable
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import CATALOG
from rgym.tasks.spec import load_task
from tests.conftest import requires_bwrap


def _copy(task: str, tmp_path, new_id: str):
    dst = tmp_path / new_id
    shutil.copytree(CATALOG / task, dst)
    f = dst / "task.yaml"
    f.write_text(f.read_text().replace(f"id: {task}", f"id: {new_id}"))
    return dst


def test_a_recipe_needing_a_missing_package_says_how_to_get_it(tmp_path):
    d = _copy("battle-of-sexes", tmp_path, "needs-pkg")
    recipe = d / "prepare.py"
    recipe.write_text("import not_a_real_package_xyz\n" + recipe.read_text())
    with pytest.raises(DataUnavailable, match=r"pip install not_a_real_package_xyz"):
        prepare_data(load_task(d))


def test_prepared_data_records_checksums_and_licence():
    data = prepare_data(load_task(CATALOG / "titanic"))
    assert set(data.info["private"]) == {"dev.csv", "test.csv"}
    assert all(len(h) == 64 for h in data.info["public"].values())
    assert "GPL" in data.info["licence"]
    assert not (data.public / "dev.csv").exists()


def test_prepared_data_records_its_seed_mode_and_key_fingerprint(rgym_cache):
    spec = load_task(CATALOG / "titanic")
    secret, public = prepare_data(spec), prepare_data(spec, seed_mode="public")
    key = (rgym_cache / "key").read_bytes()
    fp = hashlib.sha256(key).hexdigest()[:12]
    assert secret.seed_provenance == {"seed_mode": "secret", "key_fingerprint": fp}
    assert public.seed_provenance == {"seed_mode": "public", "key_fingerprint": None}
    assert json.loads((secret.public.parent / "data.json").read_text())["key_fingerprint"] == fp
    # cached apart: the two modes never share a folder
    assert secret.public.parent != public.public.parent
    assert "-secret-" in secret.public.parent.name and "-public-" in public.public.parent.name
    with pytest.raises(ConfigError, match="seed mode"):
        prepare_data(spec, seed_mode="guessable")


@requires_bwrap
def test_verify_fails_loudly_when_the_reference_no_longer_beats_the_baseline(tmp_path):
    d = _copy("battle-of-sexes", tmp_path, "broken-ref")
    (d / "reference" / "strategy.py").write_text("def row_strategy(history):\n    return 1\n")
    p = subprocess.run(
        [sys.executable, "-m", "rgym.cli", "verify", "broken-ref", "--tasks-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 1
    assert "does not beat baseline" in p.stderr
