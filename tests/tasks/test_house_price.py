"""house-price and house-price-l1: real graders and sandboxes on the `tiny` variant (400 houses).

The submission is joined on Id; labels of dev and test never reach the workspace; every
malformed submission is a typed outcome with a message.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rgym
from rgym.grading.runner import GradeStatus, grade
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from rgym.tasks.verify import verify_task
from tests.tasks.conftest import requires_bwrap

pytestmark = requires_bwrap

TASK = "house-price"


@pytest.fixture(scope="module")
def data(rgym_cache):
    return prepare_data(get_task(TASK), "tiny")


@pytest.fixture(scope="module")
def test_ids(data):
    return pd.read_csv(data.public / "test.csv")["Id"].to_numpy()


def csv(ids, prices, header="Id,SalePrice") -> dict[str, str]:
    rows = "".join(f"{i},{p}\n" for i, p in zip(ids, prices, strict=True))
    return {"submission.csv": f"{header}\n{rows}"}


def test_reference_beats_baseline_and_baseline_reproduces():
    spec = get_task(TASK)
    row = verify_task(spec, "tiny", seed_mode="public")  # the split task.yaml measured on
    assert row.ok, row.problems
    assert row.reference.score > row.baseline.score
    assert row.baseline.score == pytest.approx(spec.baseline_score("tiny"), abs=1e-4)


def test_splits_are_seeded_disjoint_and_labels_stay_private(data, tmp_path):
    train = pd.read_csv(data.public / "train.csv")
    test = pd.read_csv(data.public / "test.csv")
    dev_lab = pd.read_csv(data.private / "dev.csv")
    test_lab = pd.read_csv(data.private / "test.csv")
    assert "SalePrice" in train.columns and "SalePrice" not in test.columns
    assert sorted(p.name for p in data.public.iterdir()) == ["test.csv", "train.csv"]
    assert set(dev_lab.Id).isdisjoint(test_lab.Id)
    assert set(dev_lab.Id) | set(test_lab.Id) == set(test.Id)
    assert set(train.Id).isdisjoint(test.Id)
    assert len(train) + len(test) == 400
    # the same seed gives the same files: with public seeds, all of them; with this
    # installation's secret key, the public ones (which houses are dev or test is secret)
    module_spec = importlib.util.spec_from_file_location(
        "rgym_test_hp_prepare", get_task(TASK).path("prepare.py")
    )
    recipe = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(recipe)
    for run in ("a", "b"):
        (tmp_path / run / "pub").mkdir(parents=True)
        (tmp_path / run / "priv").mkdir()
        recipe.prepare(
            tmp_path / run / "pub",
            tmp_path / run / "priv",
            seed=42,
            variant="tiny",
            rows=400,
            secret_seed=lambda purpose, public: public,
        )
    public_data = prepare_data(get_task(TASK), "tiny", seed_mode="public")
    for rel in ("pub/train.csv", "pub/test.csv", "priv/dev.csv", "priv/test.csv"):
        here = (tmp_path / "a" / rel).read_bytes()
        assert here == (tmp_path / "b" / rel).read_bytes()
        folder = public_data.public if rel.startswith("pub") else public_data.private
        assert here == folder.joinpath(rel.split("/")[1]).read_bytes()
        if rel.startswith("pub"):
            assert here == data.public.joinpath(rel.split("/")[1]).read_bytes()
        else:
            assert here != data.private.joinpath(rel.split("/")[1]).read_bytes()


def test_scores_join_on_id_not_on_row_order(test_ids, grade_files):
    rng = np.random.default_rng(0)
    prices = rng.uniform(1e5, 3e5, len(test_ids)).round()
    straight = grade_files(TASK, csv(test_ids, prices))
    order = rng.permutation(len(test_ids))
    shuffled = grade_files(TASK, csv(test_ids[order], prices[order]))
    again = grade_files(TASK, csv(test_ids, prices))
    assert straight.ok, straight.message
    assert shuffled.score == pytest.approx(straight.score)
    assert again.score == straight.score
    assert set(straight.metrics) >= {"r2", "rmse"}


def test_perfect_predictions_score_one(data, test_ids, grade_files):
    truth = pd.concat(
        [pd.read_csv(data.private / "dev.csv"), pd.read_csv(data.private / "test.csv")]
    ).set_index("Id")["SalePrice"]
    g = grade_files(TASK, csv(test_ids, truth.loc[test_ids].to_numpy()), split="test")
    assert g.ok and g.score == pytest.approx(1.0) and g.metrics["rmse"] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("make", "status", "needle"),
    [
        (lambda ids: {}, GradeStatus.no_artifact, "No submission.csv"),
        (lambda ids: {"submission.csv": ""}, GradeStatus.invalid_artifact, "empty"),
        (
            lambda ids: {"submission.csv": b"\x00\xff\x00garbage"},
            GradeStatus.invalid_artifact,
            "submission.csv",
        ),
        (
            lambda ids: csv(ids, [1.0] * len(ids), header="Id,Price"),
            GradeStatus.invalid_artifact,
            "SalePrice",
        ),
        (
            lambda ids: {"submission.csv": "Id,SalePrice\n"},
            GradeStatus.invalid_artifact,
            "no row for 120 of the 120 houses",
        ),
        (
            lambda ids: csv(ids[:-5], [1.0] * (len(ids) - 5)),
            GradeStatus.invalid_artifact,
            "no row for 5 of the 120 houses",
        ),
        (
            lambda ids: csv(list(ids) + [ids[0]], [1.0] * (len(ids) + 1)),
            GradeStatus.invalid_artifact,
            "more than once",
        ),
        (
            lambda ids: csv(ids, ["cheap"] + [1.0] * (len(ids) - 1)),
            GradeStatus.invalid_artifact,
            "finite number",
        ),
        (
            lambda ids: csv(ids, ["inf"] + [1.0] * (len(ids) - 1)),
            GradeStatus.invalid_artifact,
            "finite number",
        ),
        (
            lambda ids: csv(ids, ["nan"] + [1.0] * (len(ids) - 1)),
            GradeStatus.invalid_artifact,
            "finite number",
        ),
        (
            lambda ids: csv(["house-1"] + list(ids[1:]), [1.0] * len(ids)),
            GradeStatus.invalid_artifact,
            "not a whole number",
        ),
        (
            lambda ids: csv([f"{ids[0]}.5"] + list(ids[1:]), [1.0] * len(ids)),
            GradeStatus.invalid_artifact,
            "not a whole number",
        ),
    ],
    ids=[
        "missing",
        "empty",
        "binary",
        "wrong-column",
        "header-only",
        "missing-rows",
        "duplicate-id",
        "text-price",
        "inf-price",
        "nan-price",
        "text-id",
        "fractional-id",
    ],
)
def test_malformed_submissions_get_a_typed_outcome(make, status, needle, test_ids, grade_files):
    g = grade_files(TASK, make(test_ids))
    assert g.status == status, g.message
    assert needle in g.message


def test_a_huge_header_is_named_briefly_in_the_message(test_ids, grade_files):
    header = ",".join(f"{i}{'x' * 5000}" for i in range(30))  # 150 kB of column names
    g = grade_files(TASK, {"submission.csv": f"{header}\n" + "1," * 29 + "1\n"})
    assert g.status == GradeStatus.invalid_artifact, g.message
    assert "SalePrice" in g.message and "truncated" in g.message
    assert len(g.message) < 2000


def test_fake_label_files_in_the_workspace_cannot_change_the_score(data, test_ids, grade_files):
    env = rgym.make(TASK, variant="tiny")
    try:
        env.reset(seed=0)
        obs = env.step("echo 'Id,SalePrice' > data/test.csv")[0]
        assert "Read-only" in obs
        obs = env.step("validate")[0]
        assert "no_artifact" in obs and "submission.csv" in obs
        env.step("python baseline.py")
        baseline_csv = (env.workspace / "submission.csv").read_text()
        # fake answers everywhere an evaluator might look; a fake grader next to them
        env.step(
            "cp submission.csv answer.csv && cp submission.csv dev.csv && "
            "cp submission.csv test.csv && mkdir -p private grader && "
            "cp submission.csv private/dev.csv && cp submission.csv private/test.csv && "
            'echo \'print("RGYM_RESULT {\\"metrics\\": {\\"r2\\": 1}}")\' '
            "> grader/grade.py"
        )
        env.step("validate")
        honest = grade_files(TASK, {"submission.csv": baseline_csv})
        assert env.dev_scores == [pytest.approx(honest.score)]
        assert honest.score < 0.9
        env.step("rm submission.csv")
        info = env.step("submit")[4]
        assert info["exit_status"] == "no_artifact"
    finally:
        env.close()


def test_l1_has_no_baseline_code_but_the_same_data_and_grader(data, test_ids, backend):
    l1 = get_task("house-price-l1")
    l1_data = prepare_data(l1, "tiny")
    for name in ("train.csv", "test.csv"):
        assert (l1_data.public / name).read_bytes() == (data.public / name).read_bytes()

    # the same hidden houses; which are dev and which test is each task's own secret, and
    # equal with public seeds
    def hidden(d):
        return {name: set(pd.read_csv(d.private / name)["Id"]) for name in ("dev.csv", "test.csv")}

    assert set.union(*hidden(l1_data).values()) == set.union(*hidden(data).values())
    public_l1 = prepare_data(l1, "tiny", seed_mode="public")
    public_hp = prepare_data(get_task(TASK), "tiny", seed_mode="public")
    for name in ("dev.csv", "test.csv"):
        assert (public_l1.private / name).read_bytes() == (public_hp.private / name).read_bytes()
    files = csv(test_ids, np.full(len(test_ids), 180000.0) + np.arange(len(test_ids)))
    with tempfile.TemporaryDirectory() as ws:
        (Path(ws) / "submission.csv").write_text(files["submission.csv"])
        for split in ("dev", "test"):
            scores = {
                grade(spec, "tiny", Path(ws), split, backend, d).score
                for spec, d in ((l1, public_l1), (get_task(TASK), public_hp))
            }
            assert len(scores) == 1  # the same grader on the same rows
    env = rgym.make("house-price-l1", variant="tiny")
    try:
        prompt, _ = env.reset(seed=0)
        assert sorted(p.name for p in env.workspace.iterdir()) == ["data"]
        assert "0.873" in prompt  # the baseline to beat is stated
        assert "baseline.py" not in prompt
    finally:
        env.close()
