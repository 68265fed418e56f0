"""Normalised 0 means "the baseline, on this test set" (issue finding 6).

battle-of-sexes' unmodified starter scores about 1.016 on rgym's test games, but normalising
used MLGym's 1.0227, so doing nothing earned -0.016. Baseline and reference are now measured on
the same test set as the agent's score, through the real test grader, and cached next to the
data: submitting the unmodified baseline of a deterministic task earns exactly 0.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys

import pytest

import rgym
from rgym.env import normalised_score
from rgym.runs.runner import RunConfig, run
from rgym.tasks.baselines import measured_scores, scores_file
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from rgym.tasks.spec import load_task
from tests.tasks.conftest import requires_bwrap

pytestmark = requires_bwrap


@pytest.mark.parametrize(
    ("task", "variant", "commands"),
    [
        ("battle-of-sexes", "default", []),
        ("blotto", "tiny", []),
        ("prisoners-dilemma", "tiny", []),
        ("sat-heuristic", "tiny", []),
        ("titanic", "default", ["python baseline.py"]),
        ("house-price", "tiny", ["python baseline.py"]),
    ],
)
def test_the_unmodified_baseline_earns_exactly_zero(task, variant, commands):
    env = rgym.make(task, variant=variant)
    try:
        env.reset(seed=0)
        for c in commands:
            env.step(c)
        _, reward, terminated, _, info = env.step("submit")
        assert terminated and info["exit_status"] == "submitted", info
        assert reward == 0.0 and math.copysign(1.0, reward) == 1.0  # 0.0, not -0.0
        assert info["normalised_test_score"] == 0.0
        m = env.measured
        assert m.baseline_source == "measured" and env.scores_source == m.source
        assert info["test_score"] == m.baseline  # measured on this very test set
        assert (m.seed_mode, m.key_fingerprint) == (
            env.data.info["seed_mode"],
            env.data.info["key_fingerprint"],
        )
        assert m.seed_mode == "secret" and m.key_fingerprint
        assert m.published_baseline == get_task(task).baseline_score(variant)
    finally:
        env.close()


def test_published_numbers_would_have_paid_for_doing_nothing():
    """The bug itself: on rgym's test games the starter does not score MLGym's 1.0227."""
    spec = get_task("battle-of-sexes")
    for mode in ("public", "secret"):
        data = prepare_data(spec, seed_mode=mode)
        m = measured_scores(spec, "default", data)
        assert m.baseline != spec.baseline_score()
        old = normalised_score(
            m.baseline, spec.baseline_score(), spec.reference_score(), spec.metric.direction
        )
        assert old != 0.0  # what doing nothing used to earn
        assert normalised_score(m.baseline, m.baseline, m.reference, spec.metric.direction) == 0


def test_public_seeds_mode_also_normalises_with_its_own_measurement():
    env = rgym.make("sat-heuristic", variant="tiny", seed_mode="public")
    try:
        env.reset(seed=0)
        reward = env.step("submit")[1]
        assert reward == 0.0
        # the public test set is the one task.yaml's numbers come from: they agree exactly
        assert env.measured.baseline == get_task("sat-heuristic").baseline_score("tiny")
        assert env.measured.reference == get_task("sat-heuristic").reference_score("tiny")
        assert env.measured.key_fingerprint is None
    finally:
        env.close()


def _copy(task: str, tmp_path, new_id: str):
    dst = tmp_path / new_id
    shutil.copytree(get_task(task).root, dst)
    f = dst / "task.yaml"
    f.write_text(f.read_text().replace(f"id: {task}", f"id: {new_id}"))
    return dst


def test_measured_once_then_cached_and_measured_again_when_an_input_changes(tmp_path):
    d = _copy("prisoners-dilemma", tmp_path, "pd-cache")
    spec = load_task(d)
    data = prepare_data(spec, "tiny")
    first = measured_scores(spec, "tiny", data)
    assert not first.cached and first.source == "measured"
    assert scores_file(spec, "tiny", data).exists()
    again = measured_scores(spec, "tiny", data)
    assert again.cached and (again.baseline, again.reference) == (first.baseline, first.reference)
    # a changed starter (the baseline artefact) is measured again
    (d / "starter" / "strategy.py").write_text("def row_strategy(history):\n    return 0\n")
    spec = load_task(d)
    changed = measured_scores(spec, "tiny", data)
    assert not changed.cached and changed.baseline != first.baseline
    assert changed.reference_run.score == first.reference_run.score  # same games
    # so is a changed grader
    grader = d / "grader" / "grade.py"
    grader.write_text(grader.read_text().replace("score = sum(", "score = 0.5 + sum("))
    spec = load_task(d)
    shifted = measured_scores(spec, "tiny", data)
    assert not shifted.cached and shifted.baseline == pytest.approx(changed.baseline + 0.5)


def test_other_data_other_measurement(tmp_path, monkeypatch):
    spec = get_task("sat-heuristic")
    here = measured_scores(spec, "tiny", prepare_data(spec, "tiny"))
    monkeypatch.setenv("RGYM_CACHE", str(tmp_path))  # another installation, another key
    data = prepare_data(spec, "tiny")
    there = measured_scores(spec, "tiny", data)
    assert not there.cached and there.key_fingerprint != here.key_fingerprint
    assert there.baseline_run.seconds > 0
    assert scores_file(spec, "tiny", data).parent == data.public.parent  # cached with the data


def test_a_baseline_that_cannot_run_falls_back_to_task_yaml_and_says_so(tmp_path):
    d = _copy("sat-heuristic", tmp_path, "sat-broken-baseline")
    yaml_file = d / "task.yaml"
    text = yaml_file.read_text()
    yaml_file.write_text(text.replace('command: "true"', 'command: "exit 3"', 1))  # baseline's
    spec = load_task(d)
    data = prepare_data(spec, "tiny")
    m = measured_scores(spec, "tiny", data)
    assert m.baseline_source == "task.yaml" and m.baseline == spec.baseline_score("tiny")
    assert m.reference_source == "measured"
    assert m.source == "baseline task.yaml, reference measured"
    assert m.baseline_run.status == "command_failed"
    assert any("baseline was not scored" in n for n in m.notes)
    assert not scores_file(spec, "tiny", data).exists()  # measured again next time
    env = rgym.make(str(d), variant="tiny")
    try:
        env.reset(seed=0)
        reward = env.step("submit")[1]
        assert env.scores_source == "baseline task.yaml, reference measured"
        published = spec.baseline_score("tiny")
        assert reward == pytest.approx(
            (env.test_grade.score - published) / (env.measured.reference - published)
        )
    finally:
        env.close()


def test_a_run_result_reports_the_numbers_it_normalised_with(tmp_path):
    actions = tmp_path / "actions.yaml"
    actions.write_text("- submit\n")
    results = {}
    for mode in ("secret", "public"):
        cfg = RunConfig(
            task="sat-heuristic",
            variant="tiny",
            actions=actions,
            runs_dir=tmp_path / "runs",
            seed_mode=mode,
        )
        results[mode] = r = run(cfg)
        assert r.exit_status == "submitted" and r.normalised_score == 0.0
        assert r.scores_source == "measured" and r.baseline_score == r.test_score
        assert r.published_baseline_score == get_task("sat-heuristic").baseline_score("tiny")
        assert r.integrity.seed_mode == mode
    assert results["secret"].integrity.key_fingerprint
    assert results["public"].integrity.key_fingerprint is None


def test_data_prepare_measures_with_a_progress_line_then_reuses_it(tmp_path):
    env = {**os.environ, "RGYM_CACHE": str(tmp_path)}
    cmd = [sys.executable, "-m", "rgym.cli", "data", "prepare", "sat-heuristic", "--variant"]
    first = subprocess.run([*cmd, "tiny"], capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "baseline" in first.stdout and "measured in" in first.stdout, first.stdout
    second = subprocess.run([*cmd, "tiny"], capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0 and "cached" in second.stdout, second.stdout
    public = subprocess.run(
        [*cmd, "tiny", "--public-seeds"], capture_output=True, text=True, env=env, timeout=300
    )
    assert public.returncode == 0 and "measured in" in public.stdout  # its own test set
    assert "baseline 84 · reference 36" in public.stdout  # task.yaml's numbers, exactly


def test_a_reference_that_loses_on_this_test_set_keeps_zero_at_the_baseline(tmp_path):
    """A reference worse than the baseline cannot set the scale (the sign would flip): the
    published lead is added to the measured baseline instead, and a note says so."""
    d = _copy("blotto", tmp_path, "blotto-weak-ref")
    (d / "reference" / "strategy.py").write_text(
        "def row_strategy(history):\n    return [120, 0, 0, 0, 0, 0]\n"
    )
    spec = load_task(d)
    m = measured_scores(spec, "tiny", prepare_data(spec, "tiny"))
    assert m.reference_run.score < m.baseline_run.score  # it really loses
    gap = spec.reference_score("tiny") - spec.baseline_score("tiny")
    assert m.baseline == m.baseline_run.score and m.baseline_source == "measured"
    assert m.reference == pytest.approx(m.baseline + gap)
    assert m.reference_source == "task.yaml gap" and "does not beat" in m.notes[0]
    env = rgym.make(str(d), variant="tiny")
    try:
        env.reset(seed=0)
        assert env.step("submit")[1] == 0.0
        # better than the baseline is still positive
        assert env.normalise(m.baseline + gap / 2) == pytest.approx(0.5)
    finally:
        env.close()
