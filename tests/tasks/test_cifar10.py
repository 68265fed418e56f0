"""cifar10 and cifar10-l1: the image generator, real graders in real sandboxes on the `tiny`
variant (600 training and 200 test images), the `full` recipe on a local parquet fixture in
Hugging Face's `uoft-cs/cifar10` schema, and (slow) the default variant through `rgym verify`.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rgym
from rgym.grading.runner import GradeStatus
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from rgym.tasks.verify import score_solution, verify_task
from tests.tasks.conftest import hidden_labels, predictions_csv, requires_bwrap

TASK = "cifar10"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cifar10"
bwrap = requires_bwrap


def load_recipe():
    spec = importlib.util.spec_from_file_location(
        "rgym_test_cifar10_prepare", get_task(TASK).path("prepare.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recipe():
    return load_recipe()


@pytest.fixture(scope="module")
def data(rgym_cache):
    return prepare_data(get_task(TASK), "tiny")


@pytest.fixture(scope="module")
def truth(data) -> pd.Series:
    """The label of every test image (dev and test), by id."""
    return hidden_labels(data)


def run_prepare(recipe, tmp: Path, key: int | None, **options):
    """Files of recipe.prepare with a fake installation key (None: public seeds)."""
    pub, priv = tmp / "public", tmp / "private"
    pub.mkdir(parents=True)
    priv.mkdir()

    def secret_seed(purpose, public):
        if key is None:
            return public
        return int.from_bytes(hashlib.sha256(f"{key}:{purpose}".encode()).digest()[:7], "big")

    recipe.prepare(pub, priv, seed=15, variant="tiny", secret_seed=secret_seed, **options)
    return {p.name: p.read_bytes() for p in [*pub.iterdir(), *priv.iterdir()]}


# --- the generator ----------------------------------------------------------------------------


def test_generation_is_deterministic_per_key_and_differs_between_keys(recipe, tmp_path):
    small = {"n_train": 120, "n_test": 60}
    a = run_prepare(recipe, tmp_path / "a", key=1, **small)
    again = run_prepare(recipe, tmp_path / "again", key=1, **small)
    other = run_prepare(recipe, tmp_path / "other", key=2, **small)
    public = run_prepare(recipe, tmp_path / "public", key=None, **small)
    assert a == again
    # training data follows the public task seed; the test images and split follow the key
    for name in ("train_images.npy", "train_labels.npy"):
        assert a[name] == other[name] == public[name]
    for name in ("test_images.npy", "dev.csv", "test.csv"):
        assert a[name] != other[name]
        assert a[name] != public[name]


def test_tiny_data_shapes_balance_and_splits(data, truth):
    assert sorted(p.name for p in data.public.iterdir()) == [
        "README.txt",
        "test_images.npy",
        "train_images.npy",
        "train_labels.npy",
    ]
    assert sorted(p.name for p in data.private.iterdir()) == ["dev.csv", "test.csv"]
    x = np.load(data.public / "train_images.npy")
    y = np.load(data.public / "train_labels.npy")
    xt = np.load(data.public / "test_images.npy")
    assert x.shape == (600, 32, 32, 3) and x.dtype == np.uint8
    assert y.shape == (600,) and y.dtype == np.uint8
    assert xt.shape == (200, 32, 32, 3) and xt.dtype == np.uint8
    assert np.bincount(y, minlength=10).tolist() == [60] * 10
    assert np.bincount(truth.to_numpy(), minlength=10).tolist() == [20] * 10
    dev = pd.read_csv(data.private / "dev.csv")
    test = pd.read_csv(data.private / "test.csv")
    assert len(dev) == len(test) == 100
    assert set(dev.id).isdisjoint(test.id)
    assert truth.index.tolist() == list(range(200))  # one id per row of test_images.npy
    assert x.std() > 40 and len(np.unique(x.reshape(-1, 3), axis=0)) > 10_000  # not blank
    readme = (data.public / "README.txt").read_text()
    assert "(600, 32, 32, 3)" in readme and "0 disk" in readme and "9 bowtie" in readme


def test_class_is_not_decodable_from_colour_statistics(recipe):
    rng = np.random.default_rng(0)
    labels = recipe.balanced_labels(3000, rng)
    images = recipe.render(labels, rng).astype(np.float64) / 255
    # per-image mean and spread of each channel: a nearest-centroid classifier is at chance
    feats = np.concatenate([images.mean((1, 2)), images.std((1, 2))], axis=1)
    feats = (feats - feats.mean(0)) / feats.std(0)
    train, test = slice(0, 2000), slice(2000, None)
    centroids = np.stack([feats[train][labels[train] == c].mean(0) for c in range(10)])
    dist = ((feats[test][:, None, :] - centroids[None]) ** 2).sum(-1)
    accuracy = (dist.argmin(1) == labels[test]).mean()
    assert accuracy < 0.16  # chance is 0.10; two standard errors are about 0.02


def test_generation_speed(recipe):
    """60,000 images must take well under a minute on one core; 3,000 here."""
    import time

    rng = np.random.default_rng(0)
    labels = recipe.balanced_labels(3000, rng)
    start = time.process_time()
    recipe.render(labels, rng)
    assert time.process_time() - start < 3.0  # 60 s for 60,000 images


# --- grading ----------------------------------------------------------------------------------


@bwrap
def test_perfect_and_constant_predictions(truth, grade_files):
    ids, labels = truth.index.to_numpy(), truth.to_numpy()
    for split in ("dev", "test"):
        g = grade_files(TASK, predictions_csv(ids, labels), split=split)
        assert g.ok and g.score == 1.0, g.message
    constant = grade_files(TASK, predictions_csv(ids, np.zeros_like(labels)), split="test")
    assert constant.ok and constant.score == pytest.approx(0.1, abs=0.06)


@bwrap
def test_score_joins_on_id_not_on_row_order(truth, grade_files):
    rng = np.random.default_rng(1)
    ids = truth.index.to_numpy()
    labels = np.where(rng.random(len(ids)) < 0.6, truth.to_numpy(), rng.integers(0, 10, len(ids)))
    straight = grade_files(TASK, predictions_csv(ids, labels))
    order = rng.permutation(len(ids))
    shuffled = grade_files(TASK, predictions_csv(ids[order], labels[order]))
    assert straight.ok, straight.message
    assert shuffled.score == straight.score
    assert 0.45 < straight.score < 0.85


def _ids(n=200):
    return list(range(n))


MALFORMED = [
    ({}, GradeStatus.no_artifact, "submission.csv"),
    ({"submission.csv": ""}, GradeStatus.invalid_artifact, "empty"),
    ({"submission.csv": b"\x89PNG\x00\xff"}, GradeStatus.invalid_artifact, "submission.csv"),
    (predictions_csv(_ids(), [1] * 200, "id,class"), GradeStatus.invalid_artifact, "label"),
    (
        predictions_csv(_ids(), [1] * 200, "Id,label"),
        GradeStatus.invalid_artifact,
        "no column(s) id",
    ),
    ({"submission.csv": "id,label\n"}, GradeStatus.invalid_artifact, "200 of the 200"),
    (predictions_csv(_ids(195), [1] * 195), GradeStatus.invalid_artifact, "no row for 5 of"),
    (predictions_csv([*_ids(), 7], [1] * 201), GradeStatus.invalid_artifact, "id 7 more than"),
    (predictions_csv([*_ids(), 200], [1] * 201), GradeStatus.invalid_artifact, "id 200, which"),
    (predictions_csv([-1, *_ids()[1:]], [1] * 200), GradeStatus.invalid_artifact, "id -1"),
    (predictions_csv(["x", *_ids()[1:]], [1] * 200), GradeStatus.invalid_artifact, "whole"),
    (predictions_csv([0.5, *_ids()[1:]], [1] * 200), GradeStatus.invalid_artifact, "whole"),
    (predictions_csv(_ids(), [10] + [1] * 199), GradeStatus.invalid_artifact, "0 to 9"),
    (predictions_csv(_ids(), [-1] + [1] * 199), GradeStatus.invalid_artifact, "0 to 9"),
    (predictions_csv(_ids(), [1e30] + [1] * 199), GradeStatus.invalid_artifact, "0 to 9"),
    (predictions_csv(_ids(), ["cat"] + [1] * 199), GradeStatus.invalid_artifact, "'cat'"),
    (predictions_csv(_ids(), [2.5] + [1] * 199), GradeStatus.invalid_artifact, "whole"),
    (predictions_csv(_ids(), ["nan"] + [1] * 199), GradeStatus.invalid_artifact, "whole"),
    (predictions_csv(_ids(), ["inf"] + [1] * 199), GradeStatus.invalid_artifact, "whole"),
    (predictions_csv(_ids(), [""] + [1] * 199), GradeStatus.invalid_artifact, "whole"),
]
MALFORMED_IDS = [
    "missing",
    "empty",
    "binary",
    "no-label-column",
    "no-id-column",
    "header-only",
    "missing-rows",
    "duplicate-id",
    "id-past-the-end",
    "negative-id",
    "text-id",
    "fractional-id",
    "label-10",
    "label-minus-1",
    "label-huge",
    "label-name",
    "fractional-label",
    "nan-label",
    "inf-label",
    "empty-label",
]
IN_DEFAULT_SUITE = {"missing", "no-id-column", "missing-rows", "label-10", "text-id"}
"""The grader's checks are rgym_grade.class_by_id, which test_fashion_mnist.py runs through every
case in the default suite; here a few show that cifar10 uses it, the rest run in the slow suite."""


@bwrap
@pytest.mark.parametrize(
    ("files", "status", "needle"),
    [
        pytest.param(*case, id=name, marks=[] if name in IN_DEFAULT_SUITE else [pytest.mark.slow])
        for case, name in zip(MALFORMED, MALFORMED_IDS, strict=True)
    ],
)
def test_malformed_submissions_get_a_typed_outcome(files, status, needle, grade_files):
    g = grade_files(TASK, files)
    assert g.status == status, g.message
    assert needle in g.message, g.message


@bwrap
def test_whole_numbers_written_as_floats_are_accepted(truth, grade_files):
    rows = "".join(f"{i}.0,{label}.0\n" for i, label in truth.items())
    g = grade_files(TASK, {"submission.csv": "id,label\n" + rows})
    assert g.ok and g.score == 1.0, g.message


# --- baseline, reference and the L1 task --------------------------------------------------------


@bwrap
@pytest.mark.slow
@pytest.mark.parametrize("solution", ["baseline", "reference"])
def test_baseline_and_reference_write_valid_submissions_on_tiny(solution, data):
    spec = get_task(TASK)
    result = score_solution(spec, getattr(spec, solution), "tiny")
    assert result.status == "ok", result.message
    assert 0.0 <= result.score <= 1.0


@bwrap
def test_l1_has_no_starter_and_states_the_baseline_to_beat():
    l1, c10 = get_task("cifar10-l1"), get_task(TASK)
    assert l1.starter is None
    assert l1.graders.test.script == "../cifar10/grader/grade.py"
    assert l1.data.recipe == "../cifar10/prepare.py"
    assert l1.baseline.scores == c10.baseline.scores  # the same baseline on the same data
    assert f"{c10.baseline_score('default'):.3f}" in l1.description


@pytest.mark.slow
def test_l1_workspace_has_no_code_but_the_same_data_and_grader(data, truth, grade_files):
    l1 = get_task("cifar10-l1")
    l1_data = prepare_data(l1, "tiny")
    for name in ("train_images.npy", "train_labels.npy"):  # public seed: the same images
        assert (l1_data.public / name).read_bytes() == (data.public / name).read_bytes()
    public_l1 = prepare_data(l1, "tiny", seed_mode="public")
    public_c10 = prepare_data(get_task(TASK), "tiny", seed_mode="public")
    for folder in ("public", "private"):  # with public seeds the same test set as well
        for f in getattr(public_c10, folder).iterdir():
            assert (getattr(public_l1, folder) / f.name).read_bytes() == f.read_bytes()
    assert l1.graders.test.script == "../cifar10/grader/grade.py"
    env = rgym.make("cifar10-l1", variant="tiny")
    try:
        prompt, _ = env.reset(seed=0)
        assert sorted(p.name for p in env.workspace.iterdir()) == ["data"]
        assert "baseline.py" not in prompt
        score = get_task("cifar10-l1").baseline_score("default")
        assert f"{score:.3f}" in prompt  # the baseline to beat is stated
    finally:
        env.close()


# --- the full variant on a local parquet fixture ------------------------------------------------


def fixture_spec():
    """cifar10 with its `full` variant reading tests/fixtures/cifar10 instead of the Hub."""
    spec = get_task(TASK)
    full = spec.variants["full"].model_copy(update={"data": {"source": str(FIXTURE)}})
    local = spec.model_copy(update={"variants": {**spec.variants, "full": full}})
    local.root = spec.root
    return local


def test_fixture_is_small_and_in_the_hub_schema():
    import pyarrow.parquet as pq

    files = sorted(FIXTURE.rglob("*.parquet"))
    assert [f.name for f in files] == [
        "test-00000-of-00001.parquet",
        "train-00000-of-00001.parquet",
    ]
    assert sum(f.stat().st_size for f in files) < 200_000
    schema = pq.read_schema(files[0])
    assert str(schema.field("img").type) == "struct<bytes: binary, path: string>"
    assert str(schema.field("label").type) == "int64"


def test_full_recipe_on_the_parquet_fixture(recipe):
    import pyarrow.parquet as pq

    data = prepare_data(fixture_spec(), "full")
    x = np.load(data.public / "train_images.npy")
    y = np.load(data.public / "train_labels.npy")
    xt = np.load(data.public / "test_images.npy")
    assert x.shape == (30, 32, 32, 3) and xt.shape == (20, 32, 32, 3)
    assert x.dtype == xt.dtype == y.dtype == np.uint8
    raw = pq.read_table(FIXTURE / "plain_text" / "train-00000-of-00001.parquet")
    assert y.tolist() == raw.column("label").to_pylist()  # training order is kept
    first = recipe._decode(raw.slice(0, 1))[0][0]
    assert np.array_equal(first, x[0])  # the PNG decoded as RGB
    dev = pd.read_csv(data.private / "dev.csv")
    test = pd.read_csv(data.private / "test.csv")
    assert len(dev) == len(test) == 10 and set(dev.id) | set(test.id) == set(range(20))
    raw_test = pq.read_table(FIXTURE / "plain_text" / "test-00000-of-00001.parquet")
    both = pd.concat([dev, test]).sort_values("id")
    assert sorted(both.label) == sorted(raw_test.column("label").to_pylist())
    # each test image is a fixture test image, and carries that image's label
    originals = recipe._decode(raw_test)
    for i, label in zip(both.id, both.label, strict=True):
        match = [j for j in range(20) if np.array_equal(originals[0][j], xt[i])]
        assert match and originals[1][match[0]] == label
    readme = (data.public / "README.txt").read_text()
    assert "CIFAR-10" in readme and "0 airplane" in readme and "9 truck" in readme


def test_hub_loader_reads_the_same_schema(recipe, tmp_path, monkeypatch):
    """The `datasets` path of the full recipe, pointed at the fixture folder (offline)."""
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    via_hub = recipe.load_hub(str(FIXTURE), cache_dir=str(tmp_path))
    direct = recipe.load_original(str(FIXTURE))
    for split in ("train", "test"):
        assert np.array_equal(via_hub[split][0], direct[split][0])
        assert np.array_equal(via_hub[split][1], direct[split][1])


@bwrap
def test_full_variant_grades_on_the_fixture(grade_files):
    spec = fixture_spec()
    data = prepare_data(spec, "full")
    both = pd.concat([pd.read_csv(data.private / f"{s}.csv") for s in ("dev", "test")])
    g = grade_files(spec, predictions_csv(both.id, both.label), split="test", variant="full")
    assert g.ok and g.score == 1.0, g.message


# --- the default variant (slow) ---------------------------------------------------------------


@bwrap
@pytest.mark.slow
def test_verify_default():
    spec = get_task(TASK)
    row = verify_task(spec, seed_mode="public")
    assert row.ok, row.problems
    # a better network gains at least 10 points over the baseline
    assert row.reference.score - row.baseline.score >= 0.10
    assert row.baseline.score == pytest.approx(spec.baseline_score("default"), abs=0.03)
