"""fashion-mnist: the real data from the Debian package, real graders and sandboxes.

The default suite uses the `tiny` variant (600 training and 200 test images drawn from the
real set); the default variant's baseline and reference are trained in the slow tests. The
Debian package holds the test labels under /usr, so the test that it is invisible to the
agent's commands runs a real episode.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rgym
from rgym.agent.replay import load_actions
from rgym.errors import DataUnavailable
from rgym.grading.runner import GradeStatus, better
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from rgym.tasks.verify import verify_task
from tests.conftest import unmeasured
from tests.tasks.conftest import hidden_labels, predictions_csv, requires_bwrap

TASK = "fashion-mnist"
SOURCE = Path("/usr/share/datasets/fashion-mnist")
LABELS = SOURCE / "t10k-labels-idx1-ubyte.gz"

pytestmark = [
    requires_bwrap,
    pytest.mark.skipif(
        not LABELS.is_file(),
        reason="Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist)",
    ),
]


def recipe():
    spec = importlib.util.spec_from_file_location(
        "rgym_test_fmnist_prepare", get_task(TASK).path("prepare.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(rgym_cache):
    return prepare_data(get_task(TASK), "tiny")


@pytest.fixture(scope="module")
def truth(data) -> pd.Series:
    """The true label of every test image, by id (dev and test together)."""
    return hidden_labels(data)


# --- the data -----------------------------------------------------------------------------------


def test_public_arrays_hold_real_images_and_labels_stay_private(data, truth):
    pub = data.public
    assert sorted(p.name for p in pub.iterdir()) == [
        "README.txt",
        "test_images.npy",
        "train_images.npy",
        "train_labels.npy",
    ]
    x, y, t = (
        np.load(pub / f) for f in ("train_images.npy", "train_labels.npy", "test_images.npy")
    )
    assert (x.shape, x.dtype, y.shape, y.dtype) == ((600, 28, 28), np.uint8, (600,), np.uint8)
    assert (t.shape, t.dtype) == ((200, 28, 28), np.uint8)
    assert y.max() == 9 and len(np.unique(y)) == 10
    readme = (pub / "README.txt").read_text()
    assert "(200, 28, 28)" in readme and "Ankle boot" in readme and "0-199" in readme
    # dev and test: disjoint halves covering every id, each image with its true Debian label
    dev, test = (pd.read_csv(data.private / f"{s}.csv") for s in ("dev", "test"))
    assert set(dev.id).isdisjoint(test.id) and len(dev) == len(test) == 100
    assert list(truth.index) == list(range(200))
    full = recipe()
    src_x = full.read_idx(SOURCE / "t10k-images-idx3-ubyte.gz", full.FILES["test_images"][1])
    src_y = full.read_idx(LABELS, full.FILES["test_labels"][1])
    where = {img.tobytes(): i for i, img in enumerate(src_x)}
    rows = [where[img.tobytes()] for img in t]
    assert np.array_equal(src_y[rows], truth.to_numpy())
    assert rows != sorted(rows)  # shuffled: row order says nothing about the Debian order


def test_training_subset_is_public_and_the_test_split_is_secret(data, tmp_path):
    public = prepare_data(get_task(TASK), "tiny", seed_mode="public")
    for name in ("train_images.npy", "train_labels.npy"):
        assert (public.public / name).read_bytes() == (data.public / name).read_bytes()
    assert (public.public / "test_images.npy").read_bytes() != (
        data.public / "test_images.npy"
    ).read_bytes()
    # public-seed mode reproduces from the recipe alone; another key gives another split
    for key, folder in (("public", "a"), ("other", "b")):
        (tmp_path / folder / "pub").mkdir(parents=True)
        (tmp_path / folder / "priv").mkdir()
        recipe().prepare(
            tmp_path / folder / "pub",
            tmp_path / folder / "priv",
            seed=get_task(TASK).seed,
            variant="tiny",
            train_size=600,
            test_size=200,
            secret_seed=lambda purpose, seed, key=key: seed if key == "public" else seed + 99,
        )
    a, b = tmp_path / "a", tmp_path / "b"
    for rel in ("pub/test_images.npy", "priv/dev.csv", "priv/test.csv"):
        folder = public.public if rel.startswith("pub") else public.private
        assert (a / rel).read_bytes() == (folder / rel.split("/")[1]).read_bytes()
        assert (a / rel).read_bytes() != (b / rel).read_bytes()


def test_a_missing_package_says_how_to_install_it(tmp_path, monkeypatch):
    module = recipe()
    monkeypatch.setattr(module, "SOURCE", tmp_path / "nowhere")
    with pytest.raises(DataUnavailable, match="sudo apt-get install dataset-fashion-mnist"):
        module.prepare(tmp_path, tmp_path, seed=0, variant="tiny", secret_seed=lambda p, s: s)


def test_a_corrupt_file_is_refused(tmp_path):
    module = recipe()
    bad = tmp_path / "labels.gz"
    bad.write_bytes(gzip.compress(b"\0\0\x08\x01\0\0\0\x02\x01\x02"))
    with pytest.raises(DataUnavailable, match="checksum"):
        module.read_idx(bad, module.FILES["test_labels"][1])


# --- the grader ---------------------------------------------------------------------------------


def test_perfect_labels_score_one_and_rows_join_on_id(data, truth, grade_files):
    ids, labels = truth.index.to_numpy(), truth.to_numpy()
    for split in ("dev", "test"):
        g = grade_files(TASK, predictions_csv(ids, labels), split=split)
        assert g.ok and g.score == 1.0 and g.metrics["n"] == 100, g.message
    wrong = np.where(np.arange(200) % 4 == 0, (labels + 1) % 10, labels)  # every 4th wrong
    order = np.random.default_rng(0).permutation(200)
    straight = grade_files(TASK, predictions_csv(ids, wrong))
    shuffled = grade_files(TASK, predictions_csv(ids[order], wrong[order]))
    floats = grade_files(TASK, predictions_csv(ids, [f"{v}.0" for v in wrong]))
    assert straight.ok and 0.6 < straight.score < 0.9
    assert shuffled.score == floats.score == straight.score
    dev_ids = pd.read_csv(data.private / "dev.csv")["id"]
    assert straight.score == pytest.approx((dev_ids % 4 != 0).mean())


def every(ids, value) -> list:
    return [value] * len(ids)


@pytest.mark.parametrize(
    ("make", "status", "needle"),
    [
        (lambda ids: {}, GradeStatus.no_artifact, "No submission.csv"),
        (lambda ids: {"submission.csv": ""}, GradeStatus.invalid_artifact, "empty"),
        (
            lambda ids: predictions_csv(ids, every(ids, 1), header="id,class"),
            GradeStatus.invalid_artifact,
            "the header has no column(s) label",
        ),
        (
            lambda ids: predictions_csv(ids, every(ids, 1), header="Id,label"),
            GradeStatus.invalid_artifact,
            "the header has no column(s) id",
        ),
        (
            lambda ids: {"submission.csv": "id,label\n"},
            GradeStatus.invalid_artifact,
            "no row for 200 of the 200 images",
        ),
        (
            lambda ids: predictions_csv(ids[:-3], every(ids[:-3], 1)),
            GradeStatus.invalid_artifact,
            "no row for 3 of the 200 images of data/test_images.npy (e.g. id 197)",
        ),
        (
            lambda ids: predictions_csv([*ids, 5], every(ids, 1) + [1]),
            GradeStatus.invalid_artifact,
            "lists id 5 more than once",
        ),
        (
            lambda ids: predictions_csv([*ids, 200], every(ids, 1) + [1]),
            GradeStatus.invalid_artifact,
            "id 200, which is not one of the images",
        ),
        (
            lambda ids: predictions_csv([-1, *ids[1:]], every(ids, 1)),
            GradeStatus.invalid_artifact,
            "id -1, which is not one of the images",
        ),
        (
            lambda ids: predictions_csv([1e30, *ids[1:]], every(ids, 1)),
            GradeStatus.invalid_artifact,
            "which is not one of the images",
        ),
        (
            lambda ids: predictions_csv(["img-0", *ids[1:]], every(ids, 1)),
            GradeStatus.invalid_artifact,
            "every id must be a whole number; 1 are not (e.g. data row 1: 'img-0')",
        ),
        (
            lambda ids: predictions_csv(ids, [10, *every(ids[1:], 1)]),
            GradeStatus.invalid_artifact,
            "class number from 0 to 9; 1 are not (e.g. id 0: 10)",
        ),
        (
            lambda ids: predictions_csv(ids, [*every(ids[1:], 1), -1]),
            GradeStatus.invalid_artifact,
            "class number from 0 to 9; 1 are not (e.g. id 199: -1)",
        ),
        (
            lambda ids: predictions_csv(ids, [2.5, *every(ids[1:], 1)]),
            GradeStatus.invalid_artifact,
            "every label must be a whole number",
        ),
        (
            lambda ids: predictions_csv(ids, ["Trouser", *every(ids[1:], 1)]),
            GradeStatus.invalid_artifact,
            "every label must be a whole number",
        ),
        (
            lambda ids: predictions_csv(ids, ["", *every(ids[1:], 1)]),
            GradeStatus.invalid_artifact,
            "every label must be a whole number",
        ),
        (
            lambda ids: predictions_csv(ids, ["nan", *every(ids[1:], 1)]),
            GradeStatus.invalid_artifact,
            "every label must be a whole number",
        ),
        (
            lambda ids: predictions_csv(ids, every(ids, "True")),
            GradeStatus.invalid_artifact,
            "every label must be a whole number, not True/False",
        ),
        (
            lambda ids: {"submission.csv": "id,label\n" + "".join(f"{hex(i)},1\n" for i in ids)},
            GradeStatus.invalid_artifact,
            "every id must be a whole number; 200 are not",
        ),
    ],
    ids=[
        "missing",
        "empty",
        "no-label-column",
        "no-id-column",
        "header-only",
        "missing-rows",
        "duplicate-id",
        "id-past-the-end",
        "negative-id",
        "huge-id",
        "text-id",
        "label-10",
        "label-minus-1",
        "fractional-label",
        "class-name",
        "blank-label",
        "nan-label",
        "bool-labels",
        "hex-ids",
    ],
)
def test_malformed_submissions_get_a_typed_outcome(make, status, needle, grade_files):
    g = grade_files(TASK, make(list(range(200))))
    assert g.status == status, g.message
    assert needle in g.message, g.message


# --- episodes -----------------------------------------------------------------------------------


def test_the_debian_files_with_the_test_labels_are_invisible_to_the_agent():
    env = rgym.make(TASK, variant="tiny")
    try:
        with unmeasured():
            env.reset(seed=0)
        out = env.step(
            f"ls -A {SOURCE} 2>&1; echo END-LS; cat {LABELS} >/dev/null 2>&1 && echo CAT-READ; "
            f"python -c \"open('{LABELS}', 'rb').read(); print('PY-READ')\" 2>&1 | tail -1"
        )[0]
        assert "END-LS" in out, out
        listing = out.split("END-LS")[0]
        assert "t10k" not in listing and "train-" not in listing, out
        assert "CAT-READ" not in out and "PY-READ" not in out, out
        assert "Error" in out, out  # FileNotFoundError or PermissionError
        # nor is any other copy of the labels (apt's cache of the .deb, say) within reach
        out = env.step(
            r"find / \( -path /proc -o -path /sys \) -prune -o \( -name '*labels-idx1*' "
            r"-o -name 'dataset-fashion-mnist*.deb' \) -print 2>/dev/null; echo FIND-DONE"
        )[0]
        assert out.strip() == "FIND-DONE", out
        # the agent's own data is there, without labels for the test images
        out = env.step("ls data")[0]
        assert "test_images.npy" in out and "test_labels" not in out
    finally:
        env.close()


@pytest.mark.slow
def test_the_baseline_makes_a_valid_submission_and_earns_exactly_zero():
    env = rgym.make(TASK, variant="tiny")
    try:
        env.reset(seed=0)
        obs = env.step("python baseline.py")[0]
        assert "wrote submission.csv (200 rows)" in obs, obs
        obs = env.step("validate")[0]
        assert len(env.dev_scores) == 1 and 0.0 <= env.dev_scores[0] <= 1.0, obs
        _, reward, terminated, _, info = env.step("submit")
        assert terminated and info["exit_status"] == "submitted", info
        assert info["test_score"] == env.measured.baseline  # deterministic training
        assert reward == 0.0
        # measured on this test set when the episode started: the reference wins even here
        m = env.measured
        assert m.baseline_source == m.reference_source == "measured", m.notes
        assert m.reference > m.baseline + 0.2
    finally:
        env.close()


# --- the default variant (slow: trains on 60,000 images) ----------------------------------------


@pytest.mark.slow
def test_verify_default():
    spec = get_task(TASK)
    row = verify_task(spec)  # this installation's secret test set
    assert row.ok, row.problems
    assert row.reference.score > row.baseline.score + 0.03
    assert row.baseline.score == pytest.approx(spec.baseline_score("default"), abs=0.02)
    assert row.seconds < 600


@pytest.mark.slow
def test_demo_submits_and_beats_the_baseline():
    spec = get_task(TASK)
    env = rgym.make(TASK)
    try:
        env.reset(seed=0)
        for item in load_actions(spec.path(spec.demo)):
            _, reward, terminated, truncated, info = env.step(item["action"])
            if terminated or truncated:
                break
        assert info["exit_status"] == "submitted"
        assert better(info["test_score"], env.measured.baseline, spec.metric.direction)
        assert reward > 0
    finally:
        env.close()
