"""Replays of the data attacks (issue finding 5): test instances and test rows.

With public seeds, sat-heuristic's private test formulas were regenerated inside the sandbox,
byte-identical, in about a second, and titanic's dev/test assignment of the rows of test.csv was
recomputed. Each test here runs the attacker's computation (rgym's public recipe with the task's
public seed) and compares it with what the grader really uses: identical under
`--public-seeds`, unrelated under the installation's secret key. What the agent is given
(training data, the rows of test.csv) stays the same in both modes.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task


def attack(task: str, variant: str, tmp: Path) -> tuple[Path, Path]:
    """The attacker's regeneration: the public recipe, run with the public task seed."""
    spec = get_task(task)
    path = spec.path(spec.data.recipe)
    mod_spec = importlib.util.spec_from_file_location(f"rgym_attack_{path.parent.name}", path)
    recipe = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(recipe)
    public, private = tmp / "public", tmp / "private"
    public.mkdir()
    private.mkdir()
    recipe.prepare(
        public,
        private,
        seed=spec.seed,
        variant=variant,
        secret_seed=lambda purpose, public_value: public_value,
        **spec.variant(variant).data,
    )
    return public, private


def test_sat_test_formulas_cannot_be_regenerated_from_public_code(tmp_path):
    spec = get_task("sat-heuristic")
    pub, priv = attack("sat-heuristic", "tiny", tmp_path)
    public = prepare_data(spec, "tiny", seed_mode="public")
    secret = prepare_data(spec, "tiny")
    for split in ("dev", "test"):
        regenerated = (priv / f"{split}.json").read_bytes()
        assert regenerated == (public.private / f"{split}.json").read_bytes()
        real = json.loads((secret.private / f"{split}.json").read_text())
        guessed = json.loads(regenerated)
        assert len(real) == len(guessed)
        assert [f["num_vars"] for f in real] == [f["num_vars"] for f in guessed]  # same mix
        assert not {json.dumps(f["clauses"]) for f in real} & {
            json.dumps(f["clauses"]) for f in guessed
        }  # not one formula in common
    # the training formulas the agent gets are public and the same in both modes
    for name in ("train.json", "README.txt"):
        assert (pub / name).read_bytes() == (secret.public / name).read_bytes()
    assert secret.info["public"] == public.info["public"]


@pytest.mark.parametrize(
    ("task", "variant", "id_col"),
    [("titanic", "default", "PassengerId"), ("house-price", "tiny", "Id")],
)
def test_which_rows_are_dev_or_test_cannot_be_recomputed(task, variant, id_col, tmp_path):
    spec = get_task(task)
    pub, priv = attack(task, variant, tmp_path)
    public = prepare_data(spec, variant, seed_mode="public")
    secret = prepare_data(spec, variant)
    for name in ("dev.csv", "test.csv"):
        assert (priv / name).read_bytes() == (public.private / name).read_bytes()
    guessed = set(pd.read_csv(priv / "test.csv")[id_col])
    real = set(pd.read_csv(secret.private / "test.csv")[id_col])
    real_dev = set(pd.read_csv(secret.private / "dev.csv")[id_col])
    hidden = set(pd.read_csv(secret.public / "test.csv")[id_col])
    assert real | real_dev == hidden and not real & real_dev
    assert len(real) == len(guessed)
    # a guess from the public seed is no better than a coin: about half of it is dev
    assert 0.3 < len(real & guessed) / len(real) < 0.7
    # what the agent sees is the same as with public seeds
    for name in ("train.csv", "test.csv"):
        assert (secret.public / name).read_bytes() == (pub / name).read_bytes()
