"""Replays of the game attacks (issue finding 5): the opponent's randomness at test time.

rgym's code is public, task seeds too. With seeds derived from the public seed alone, an agent
can rerun the recipe, know the grader's simulation seed, and predict every move of the hidden
opponent: a Blotto strategy that did so scored 0.90 on the test split (reference 0.25). Under the
installation's secret key the same attacks predict nothing; under `--public-seeds` they still
work, which is why that mode is only for reproducing published numbers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from rgym.grading.runner import INSIDE, grade
from rgym.sandbox import get_backend
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from rgym.tasks.spec import load_task
from tests.conftest import requires_bwrap

pytestmark = requires_bwrap

VARIANT = {"battle-of-sexes": "default", "prisoners-dilemma": "tiny", "blotto": "tiny"}
DETERMINISTIC = {  # strategies without randomness of their own
    "battle-of-sexes": "def row_strategy(history):\n    return 0\n",
    "prisoners-dilemma": (
        "def row_strategy(history):\n    return history[-1][1] if history else 0\n"
    ),
    "blotto": "def row_strategy(history):\n    return [20] * 6\n",
}


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def attackers_seeds(task: str, tmp: Path) -> dict:
    """What an agent computes from rgym's public code and task.yaml: the recipe, public seed."""
    spec = get_task(task)
    recipe = load_module(f"rgym_attack_recipe_{task.replace('-', '_')}", spec.path("prepare.py"))
    (tmp / "pub").mkdir(parents=True)
    (tmp / "priv").mkdir()
    recipe.prepare(
        tmp / "pub",
        tmp / "priv",
        seed=spec.seed,
        variant=VARIANT[task],
        secret_seed=lambda purpose, public: public,
        **spec.variant(VARIANT[task]).data,
    )
    return json.loads((tmp / "priv" / "simulation.json").read_text())


def graded(spec, variant: str, files: dict[str, str], data, split: str = "test"):
    ws = Path(tempfile.mkdtemp(prefix="rgym-test-ws-"))
    try:
        for rel, text in files.items():
            (ws / rel).write_text(text)
        g = grade(spec, variant, ws, split, get_backend("bwrap"), data)
        assert g.ok, g.message
        return g.score
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def local_replay(task: str, simulation: dict, body: str, tmp: Path) -> float:
    """The attacker's own run of the grader's game loop (public code) on the seeds it derived."""
    grader_dir = get_task(task).path("grader")
    (tmp / "replay").mkdir()
    (tmp / "replay" / "simulation.json").write_text(json.dumps(simulation))
    namespace: dict = {}
    exec(body, namespace)
    fn = namespace["row_strategy"]

    class Local:
        def __call__(self, *args, timeout=5.0, tuples_at_depth=None):
            return self.map([list(args)])[0]

        def map(self, calls, timeout_per_call=1.0, *, overhead=5.0, tuples_at_depth=None):
            return [fn(*json.loads(json.dumps(c))) for c in calls]

    saved = sys.path[:]
    sys.modules.pop("opponent", None)
    sys.path[:0] = [str(grader_dir), str(INSIDE)]
    try:
        module = load_module(f"rgym_attack_grade_{task.replace('-', '_')}", grader_dir / "grade.py")
        module.rgym_grade.remote_function = lambda name: Local()
        args = argparse.Namespace(split="test", private=tmp / "replay", public=tmp, seed=0)
        return module.main(args)["Score"]
    finally:
        sys.path[:] = saved
        sys.modules.pop("opponent", None)
        sys.modules.pop("rgym_grade", None)


@pytest.mark.parametrize("task", list(VARIANT))
def test_the_public_seed_predicts_the_test_games_only_in_public_mode(task, tmp_path):
    spec, variant = get_task(task), VARIANT[task]
    predicted = attackers_seeds(task, tmp_path)
    public = prepare_data(spec, variant, seed_mode="public")
    secret = prepare_data(spec, variant)
    public_sim = json.loads((public.private / "simulation.json").read_text())
    secret_sim = json.loads((secret.private / "simulation.json").read_text())
    assert public_sim == predicted  # public seeds: the recipe is the secret's whole story
    assert secret_sim["seeds"]["test"] != predicted["seeds"]["test"]
    assert secret_sim["seeds"]["dev"] != predicted["seeds"]["dev"]
    assert secret.grader_seed("test") != public.grader_seed("test") == spec.seed

    body = DETERMINISTIC[task]
    foreseen = local_replay(task, predicted, body, tmp_path)
    files = {"strategy.py": body}
    assert graded(spec, variant, files, public) == foreseen  # to the last digit
    assert graded(spec, variant, files, secret) != foreseen  # other games entirely


def _oracle(task: str, test_seed: int) -> str:
    """The strategy of the reported attack: replay the opponent's random stream, beat each move.

    The grader asks for every game's move (in game order) before the opponent moves, and the
    opponent draws from one stream in the same order, so the n-th call meets the n-th draw."""
    if task == "blotto":
        opponent = get_task("blotto").path("grader/opponent.py").read_text()
        return (
            f"import random\n{opponent}\n"
            f"_rng = random.Random({test_seed})\n_calls = []\n"
            "def row_strategy(history):\n"
            "    _calls.append(1)\n"
            "    if len(_calls) == 1:  # the grader's first, probing call\n"
            "        return [20] * 6\n"
            "    theirs = column_move(history, _rng)\n"
            "    weakest = sorted(range(6), key=lambda i: theirs[i])[:4]\n"
            "    mine = [0] * 6\n"
            "    for i in weakest:\n"
            "        mine[i] = theirs[i] + 1\n"
            "    mine[weakest[0]] += 120 - sum(mine)\n"
            "    return mine\n"
        )
    # battle-of-sexes: the column player opens with 1, then copies the row player's first
    # move with probability 0.8 (one draw per game and round after the first)
    return (
        "import random\n"
        f"_rng = random.Random({test_seed})\n_calls = []\n"
        "def row_strategy(history):\n"
        "    _calls.append(1)\n"
        "    if len(_calls) == 1 or not history:\n"
        "        return 0\n"
        "    return 0 if _rng.random() < 0.8 else 1\n"
    )


@pytest.mark.parametrize(
    ("task", "cheat", "honest_max"), [("blotto", 0.99, 0.4), ("battle-of-sexes", 1.55, 1.3)]
)
def test_the_reported_attack_wins_with_public_seeds_and_fails_with_the_secret_key(
    task, cheat, honest_max, tmp_path
):
    spec, variant = get_task(task), VARIANT[task]
    test_seed = attackers_seeds(task, tmp_path)["seeds"]["test"]
    files = {"strategy.py": _oracle(task, test_seed)}
    public = graded(spec, variant, files, prepare_data(spec, variant, seed_mode="public"))
    secret = graded(spec, variant, files, prepare_data(spec, variant))
    reference = spec.reference_score(variant)
    assert public >= cheat > reference  # knowing the seed beats the honest reference
    assert secret < honest_max < reference + 0.2  # not knowing it: no better than guessing


def test_graders_get_the_secret_seed_as_seed(tmp_path):
    """`--seed` is derived from the key too (a grader may draw its test-time randomness from it);
    the dev split gets its own."""
    task = tmp_path / "seed-probe"
    shutil.copytree(get_task("battle-of-sexes").root, task)
    (task / "task.yaml").write_text(
        (task / "task.yaml").read_text().replace("id: battle-of-sexes", "id: seed-probe")
    )
    (task / "grader" / "grade.py").write_text(
        "import rgym_grade\n\n"
        "def main(args):\n"
        "    return {'Score': args.seed % 1_000_003}\n\n"
        "rgym_grade.run(main)\n"
    )
    spec = load_task(task)
    files = {"strategy.py": DETERMINISTIC["battle-of-sexes"]}
    secret = prepare_data(spec)
    public = prepare_data(spec, seed_mode="public")
    assert graded(spec, "default", files, public) == spec.seed
    on_test = graded(spec, "default", files, secret)
    on_dev = graded(spec, "default", files, secret, split="dev")
    assert on_test == secret.grader_seed("test") % 1_000_003 != spec.seed
    assert on_dev == secret.grader_seed("dev") % 1_000_003 != on_test
