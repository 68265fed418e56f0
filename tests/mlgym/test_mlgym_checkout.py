"""Acceptance against a real MLGym checkout: set RGYM_MLGYM_DIR to its root.

    RGYM_MLGYM_DIR=/path/to/MLGym pytest tests/mlgym/test_mlgym_checkout.py

Every task YAML in configs/tasks either loads or is reported with a message naming its file;
every loaded task either runs or stops before the episode naming what is missing (a package
with its install command, a GPU, a dataset). The three games run their starter strategies (the
baselines MLGym published) and score within sampling noise of MLGym's `baseline_scores`;
titanicSurvival (which ships no baseline script) scores its sample submission exactly as the
checkout's own ground truth says. Nothing of MLGym is copied into rgym: this reads the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rgym.env import ResearchEnv
from rgym.errors import TaskSpecError
from rgym.tasks.mlgym_data import TaskUnavailable
from rgym.tasks.registry import all_tasks, get_task, scan

ROOT = Path(os.environ.get("RGYM_MLGYM_DIR", ""))
pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("RGYM_MLGYM_DIR") or not (ROOT / "configs" / "tasks").is_dir(),
        reason="set RGYM_MLGYM_DIR to the root of an MLGym checkout to run these",
    ),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
    pytest.mark.slow,
]

GAMES = {
    # id: sampling tolerance of a 10,000-game mean (several standard errors)
    "mlgym/battleOfSexes": 0.03,
    "mlgym/prisonersDilemma": 0.05,
    "mlgym/blotto": 0.03,
}


def test_every_task_yaml_loads_or_is_named():
    cat = scan([ROOT])
    files = {str(f.resolve()) for f in (ROOT / "configs" / "tasks").glob("*.yaml")}
    loaded = {str(cat.files[t]) for t in cat.tasks if t.startswith("mlgym/")}
    named = set()
    for err in cat.problems.values():
        assert isinstance(err, TaskSpecError)
        named |= {f for f in files if f in str(err)}
    assert files <= loaded | named
    # the two CIFAR-10 YAMLs share an id: an error naming both files, neither silently wins
    dup = cat.problems.get("mlgym/imageClassificationCifar10")
    if (ROOT / "configs" / "tasks" / "imageClassificationCifar10L1.yaml").is_file():
        assert dup is not None
        assert "imageClassificationCifar10.yaml" in str(dup)
        assert "imageClassificationCifar10L1.yaml" in str(dup)


def test_every_task_runs_here_or_stops_naming_what_is_missing():
    for tid in sorted(t for t in all_tasks([ROOT]) if t.startswith("mlgym/")):
        try:
            get_task(tid, [ROOT])
        except TaskUnavailable as e:
            msg = str(e)
            assert tid in msg
            assert any(k in msg for k in ("pip install", "needs a GPU", "dataset")), f"{tid}: {msg}"


def _run(tid: str, commands: list[str]) -> dict:
    env = ResearchEnv(get_task(tid, [ROOT]), sandbox="bwrap")
    try:
        env.reset()
        info = {}
        for c in commands:
            _, _, terminated, truncated, info = env.step(c)
            if terminated or truncated:
                break
        return info
    finally:
        env.close()


@pytest.mark.parametrize("tid", ["mlgym/prisonersDilemma", "mlgym/blotto"])
def test_a_game_starter_scores_mlgyms_published_baseline(tid):
    published = get_task(tid, [ROOT]).baseline_score()
    info = _run(tid, ["submit"])
    assert info["exit_status"] == "submitted", info
    print(f"{tid}: rgym {info['test_score']:.4f}, MLGym baseline_scores {published:.4f}")
    assert abs(info["test_score"] - published) < GAMES[tid]


def test_rgym_run_battle_of_sexes_from_the_checkout(tmp_path):
    actions = tmp_path / "actions.yaml"
    actions.write_text("- submit\n")
    runs = tmp_path / "runs"
    p = subprocess.run(
        [sys.executable, "-m", "rgym.cli", "run", "mlgym/battleOfSexes"]
        + ["--tasks-dir", str(ROOT), "--actions", str(actions), "--runs-dir", str(runs), "-q"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert p.returncode == 0, p.stderr
    (result,) = runs.glob("*/result.json")
    r = json.loads(result.read_text())
    published = get_task("mlgym/battleOfSexes", [ROOT]).baseline_score()
    print(f"mlgym/battleOfSexes: rgym {r['test_score']:.4f}, MLGym baseline_scores {published:.4f}")
    assert r["exit_status"] == "submitted"
    assert abs(r["test_score"] - published) < GAMES["mlgym/battleOfSexes"]


def test_titanic_scores_its_sample_submission_as_the_checkout_ground_truth_says():
    import pandas as pd

    spec = get_task("mlgym/titanicSurvival", [ROOT])
    sample = spec.root / "data" / "titanic" / "sample_submission.csv"
    truth = pd.read_csv(spec.root / "data" / "titanic" / "data" / "ground_truth.csv")
    merged = pd.read_csv(sample).merge(truth, on="PassengerId", suffixes=("_pred", "_true"))
    expected = float((merged["Survived_pred"] == merged["Survived_true"]).mean())
    info = _run(
        "mlgym/titanicSurvival",
        [f"cat > submission.csv <<'EOF'\n{sample.read_text().strip()}\nEOF", "submit"],
    )
    print(
        f"mlgym/titanicSurvival: rgym {info['test_score']:.4f} (the checkout's ground truth says "
        f"{expected:.4f}); MLGym baseline_scores {spec.baseline_score():.4f}"
    )
    assert info["exit_status"] == "submitted" and info["test_score"] == pytest.approx(expected)
