"""The installation key that every secret test set derives from (issue finding 5).

The key lives in the private data cache: 32 random bytes, created 0600 and atomically on first
use, never visible in the agent's sandbox. Two keys give two test sets, one key always the same.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import stat

import pytest

import rgym
from rgym.errors import ConfigError
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from rgym.tasks.secret import derive_seed, fingerprint, installation_key
from tests.conftest import requires_bwrap


def _make_key(root: str, out) -> None:
    from pathlib import Path

    out.put(installation_key(Path(root)).hex())


def test_the_key_is_32_private_random_bytes_made_once(tmp_path):
    key = installation_key(tmp_path)
    path = tmp_path / "key"
    st = path.stat()
    assert len(key) == 32 and path.read_bytes() == key
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert installation_key(tmp_path) == key  # read back, not made again
    assert installation_key(tmp_path / "other") != key  # random, not derived from anything
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key", "other"]  # no temp files left


def test_processes_racing_to_make_the_key_all_get_the_same_one(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_make_key, args=(str(tmp_path), out)) for _ in range(6)]
    for p in procs:
        p.start()
    keys = {out.get(timeout=60) for _ in procs}
    for p in procs:
        p.join(timeout=60)
    assert keys == {(tmp_path / "key").read_bytes().hex()}
    assert [p.name for p in tmp_path.iterdir()] == ["key"]


def test_a_key_readable_by_others_or_not_a_key_is_refused(tmp_path):
    installation_key(tmp_path)
    (tmp_path / "key").chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        installation_key(tmp_path)
    (tmp_path / "key").unlink()
    (tmp_path / "key").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").write_bytes(os.urandom(32))
    with pytest.raises(ConfigError, match="symbolic link"):  # never followed (O_NOFOLLOW)
        installation_key(tmp_path)
    (tmp_path / "key").unlink()
    (tmp_path / "key").write_bytes(b"short")
    (tmp_path / "key").chmod(0o600)
    with pytest.raises(ConfigError, match="32 bytes"):
        installation_key(tmp_path)


def test_derived_seeds_depend_on_key_task_seed_and_purpose():
    k1, k2 = b"\x01" * 32, b"\x02" * 32
    base = derive_seed(k1, "blotto", 13, "test simulations")
    assert base == derive_seed(k1, "blotto", 13, "test simulations")  # deterministic
    assert 0 <= base < 2**63
    others = {
        derive_seed(k2, "blotto", 13, "test simulations"),
        derive_seed(k1, "titanic", 13, "test simulations"),
        derive_seed(k1, "blotto", 14, "test simulations"),
        derive_seed(k1, "blotto", 13, "dev simulations"),
    }
    assert base not in others and len(others) == 4
    assert fingerprint(k1) == hashlib.sha256(k1).hexdigest()[:12] != fingerprint(k2)


@pytest.mark.parametrize(("task", "variant"), [("sat-heuristic", "tiny"), ("titanic", "default")])
def test_two_keys_two_test_sets_one_key_always_the_same(task, variant, tmp_path, monkeypatch):
    spec = get_task(task)
    monkeypatch.setenv("RGYM_CACHE", str(tmp_path / "a"))
    a = prepare_data(spec, variant)
    a_again = prepare_data(spec, variant, force=True)
    a_grader = a.grader_seed("test")
    monkeypatch.setenv("RGYM_CACHE", str(tmp_path / "b"))
    b = prepare_data(spec, variant)
    # the same key elsewhere (a copied cache): the same test set, byte for byte
    (tmp_path / "c").mkdir()
    shutil.copy2(tmp_path / "a" / "key", tmp_path / "c" / "key")
    monkeypatch.setenv("RGYM_CACHE", str(tmp_path / "c"))
    c = prepare_data(spec, variant)

    assert a.info["key_fingerprint"] != b.info["key_fingerprint"]
    assert a.info["private"] != b.info["private"]  # different test sets
    assert a.info["public"] == b.info["public"]  # the agent's data is the same everywhere
    assert a_again.info["private"] == a.info["private"] == c.info["private"]
    assert c.grader_seed("test") == a_grader != b.grader_seed("test")
    assert a.grader_seed("dev") != a_grader


def test_grader_seed_refuses_data_made_with_another_key(tmp_path, monkeypatch):
    from rgym.errors import DataUnavailable
    from rgym.tasks.data import PreparedData

    spec = get_task("sat-heuristic")
    monkeypatch.setenv("RGYM_CACHE", str(tmp_path))
    data = prepare_data(spec, "tiny")
    info = json.loads((data.public.parent / "data.json").read_text())
    by_hand = PreparedData(data.public, data.private, info)  # rebuilt from its record
    assert by_hand.grader_seed("test") == data.grader_seed("test")
    (tmp_path / "key").unlink()
    installation_key(tmp_path)  # a new key: the old data's secrets are gone with the old one
    with pytest.raises(DataUnavailable, match="not the one"):
        PreparedData(data.public, data.private, info).grader_seed("test")


def test_public_mode_never_makes_or_reads_a_key(tmp_path, monkeypatch):
    monkeypatch.setenv("RGYM_CACHE", str(tmp_path))
    data = prepare_data(get_task("sat-heuristic"), "tiny", seed_mode="public")
    assert not (tmp_path / "key").exists()
    assert data.grader_seed("test") == get_task("sat-heuristic").seed


@requires_bwrap
def test_the_key_is_not_visible_in_the_agents_sandbox(rgym_cache):
    key = rgym_cache / "key"
    env = rgym.make("sat-heuristic", variant="tiny")
    try:
        env.reset(seed=0)
        assert key.exists()
        obs = env.step(f"od -An -tx1 {key} | tr -d ' \\n'; echo; ls -a {rgym_cache}; echo done")[0]
        assert "done" in obs
        assert key.read_bytes().hex() not in obs.replace(" ", "").replace("\n", "")
        assert obs.count("No such file") == 2, obs
    finally:
        env.close()


def test_a_recipe_without_secret_seed_gets_a_secret_seed_for_all_its_data(tmp_path, monkeypatch):
    """User tasks written before secret seeds: in secret mode everything they make is secret."""
    task = tmp_path / "old-style"
    shutil.copytree(get_task("battle-of-sexes").root, task)
    (task / "task.yaml").write_text(
        (task / "task.yaml").read_text().replace("id: battle-of-sexes", "id: old-style")
    )
    (task / "prepare.py").write_text(
        "import json\n\n"
        "def prepare(public, private, *, seed, variant, **options):\n"
        "    (private / 'seed.json').write_text(json.dumps(seed))\n"
    )
    from rgym.tasks.spec import load_task

    spec = load_task(task)
    monkeypatch.setenv("RGYM_CACHE", str(tmp_path / "cache"))
    secret = prepare_data(spec)
    public = prepare_data(spec, seed_mode="public")
    key = installation_key(tmp_path / "cache")
    assert json.loads((public.private / "seed.json").read_text()) == spec.seed
    assert json.loads((secret.private / "seed.json").read_text()) == derive_seed(
        key, "old-style", spec.seed, "recipe seed"
    )
