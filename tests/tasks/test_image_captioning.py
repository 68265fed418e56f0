"""image-captioning: generated scenes with five reference captions each, corpus BLEU-4 computed by
the grader with sacrebleu against references the agent never sees.

The generator in-process (determinism, variation, captions that match the pictures), the BLEU
arithmetic against a hand computation, the real grader in real sandboxes on the `tiny` variant
(good and malformed submissions, gaming attempts), and the `full` variant's MS-COCO recipe on a
tiny local copy of the Hugging Face dataset (tests/fixtures/coco).
"""

from __future__ import annotations

import importlib.util
import math
import random
import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rgym.errors import DataUnavailable
from rgym.grading.runner import INSIDE, GradeStatus, grade
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from rgym.tasks.verify import verify_task
from tests.tasks.conftest import requires_bwrap

TASK = "image-captioning"
ROOT = get_task(TASK).root
FIXTURE = Path(__file__).parents[1] / "fixtures" / "coco"


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recipe():
    return load_module("rgym_test_caption_prepare", ROOT / "prepare.py")


@pytest.fixture(scope="module")
def grader():
    sys.path.insert(0, str(INSIDE))  # the grader imports rgym_grade, as in its sandbox
    try:
        return load_module("rgym_test_caption_grade", ROOT / "grader" / "grade.py")
    finally:
        sys.path.remove(str(INSIDE))


@pytest.fixture(scope="module")
def data(rgym_cache):
    return prepare_data(get_task(TASK), "tiny")


@pytest.fixture(scope="module")
def refs(data) -> pd.DataFrame:
    """The hidden references of every test image (dev and test), by id."""
    parts = [pd.read_csv(data.private / f"{s}.csv", dtype=str) for s in ("dev", "test")]
    return pd.concat(parts).set_index("id").sort_index()


def submission(ids, captions, header: str = "id,caption") -> dict[str, str]:
    rows = "".join(f'{i},"{c}"\n' for i, c in zip(ids, captions, strict=True))
    return {"submission.csv": f"{header}\n{rows}"}


# --- the generator ------------------------------------------------------------------------------


def test_generation_is_deterministic_and_every_scene_differs(recipe):
    images, captions = recipe.generate(300, seed=5)
    again_images, again_captions = recipe.generate(300, seed=5)
    other_images, other_captions = recipe.generate(300, seed=6)
    assert images.dtype == np.uint8 and images.shape == (300, 64, 64, 3)
    assert np.array_equal(images, again_images) and captions == again_captions
    assert not np.array_equal(images, other_images) and captions != other_captions
    assert all(len(c) == 5 and len(set(c)) == 5 for c in captions)  # five distinct paraphrases
    # content varies: no caption (nor its set of content words) dominates
    assert len({c[0] for c in captions}) > 280
    words = [w for c in captions for w in c[0].split()]
    for colour in recipe.COLOURS:
        share = sum(w == colour for w in words) / len(captions)
        assert 0.05 < share < 0.5, (colour, share)


def test_pictures_show_what_their_captions_say(recipe):
    rng = np.random.default_rng(0)
    layout = recipe.sample_layout(400, rng)
    images = recipe.render(layout, rng)
    palette = np.array(list(recipe.COLOURS.values()))
    for i, scene in enumerate(recipe.scenes(layout)):
        centres = layout["centre"][i]
        for k, (_, _, size) in enumerate(scene["objects"]):
            x, y = centres[k].astype(int)
            # the shape's colour at its centre (each colour is jittered by at most 15)
            assert np.abs(images[i, y, x].astype(int) - palette[layout["colour"][i, k]]).max() <= 15
            assert recipe.RADIUS[size][0] <= layout["radius"][i, k] <= recipe.RADIUS[size][1]
        if len(scene["objects"]) == 2:
            (x0, y0), (x1, y1) = centres
            dx, dy = x0 - x1, y0 - y1
            want = {"left": dx < 0, "right": dx > 0, "above": dy < 0, "below": dy > 0}
            assert want[scene["relation"]]
            # the relation is clear: far more apart along its axis than across it
            along, across = (
                (abs(dx), abs(dy)) if scene["relation"] in ("left", "right") else (abs(dy), abs(dx))
            )
            assert across <= along / 2
        else:
            x, y = centres[0]
            col, row = (
                recipe.PLACES.index(scene["place"]) % 3,
                recipe.PLACES.index(scene["place"]) // 3,
            )
            assert int(x // (64 / 3)) == col and int(y // (64 / 3)) == row, (scene, x, y)


def test_every_caption_names_each_shape_and_its_relation_or_place(recipe):
    rng = np.random.default_rng(1)
    layout = recipe.sample_layout(200, rng)
    words = random.Random(0)
    for scene in recipe.scenes(layout):
        for caption in recipe.references(scene, words):
            for shape, _, _ in scene["objects"]:
                assert any(w in caption for w in recipe.SHAPE_WORDS[shape]), (caption, scene)
            if len(scene["objects"]) == 1:
                assert any(p in caption for p in recipe.PLACE_WORDS[scene["place"]])
            else:
                rel = scene["relation"]
                options = recipe.RELATION_WORDS[rel] + recipe.RELATION_WORDS[recipe.INVERSE[rel]]
                assert any(f" {p} " in caption for p in options), caption


def test_prepared_files_and_a_secret_dev_test_split(data, recipe, tmp_path):
    pub, priv = data.public, data.private
    assert sorted(p.name for p in pub.iterdir()) == [
        "test.csv",
        "test_images.npy",
        "train.csv",
        "train_images.npy",
    ]
    train = pd.read_csv(pub / "train.csv", dtype=str)
    test = pd.read_csv(pub / "test.csv", dtype=str)
    assert list(train.columns) == ["id", *(f"caption_{k}" for k in range(1, 6))]
    assert list(test.columns) == ["id"]
    assert np.load(pub / "train_images.npy").shape == (400, 64, 64, 3)
    assert np.load(pub / "test_images.npy").shape == (80, 64, 64, 3)
    dev, hidden = (pd.read_csv(priv / f"{s}.csv", dtype=str) for s in ("dev", "test"))
    assert len(dev) == len(hidden) == 40
    assert set(dev.id).isdisjoint(hidden.id) and set(dev.id) | set(hidden.id) == set(test.id)
    assert set(train.id).isdisjoint(test.id)

    # the task seed fixes the training scenes; the key fixes the test scenes and the split
    def make(name, key):
        out = tmp_path / name
        (out / "pub").mkdir(parents=True)
        (out / "priv").mkdir()
        recipe.prepare(
            out / "pub",
            out / "priv",
            seed=15,
            variant="tiny",
            secret_seed=lambda purpose, public: zlib.crc32(f"{key}:{purpose}".encode()),
            train_size=50,
            eval_size=20,
        )
        return {f.relative_to(out).as_posix(): f.read_bytes() for f in out.rglob("*.*")}

    a, again, b = make("a", 1), make("a2", 1), make("b", 2)
    assert a == again
    assert a["pub/train.csv"] == b["pub/train.csv"]
    assert a["pub/train_images.npy"] == b["pub/train_images.npy"]
    assert a["pub/test_images.npy"] != b["pub/test_images.npy"]
    assert a["priv/dev.csv"] != b["priv/dev.csv"]


# --- BLEU ---------------------------------------------------------------------------------------


def test_bleu_matches_a_hand_computation(grader):
    hyps = ["A Red circle left of a blue square", "a green cross"]
    refs = [["a red circle left of a big blue square"], ["a green cross"]]
    # Corpus counts (lower-cased, 13a tokens). Sentence 1 (8 words, reference 9): 1-grams 8/8,
    # 2-grams 6/7 ("a blue" missing), 3-grams 4/6, 4-grams 3/5. Sentence 2 (3 words, reference
    # 3): 3/3, 2/2, 1/1, 0/0. Totals: 11/11, 8/9, 5/7, 3/5; length 11 against 12.
    expected = math.exp(1 - 12 / 11) * (11 / 11 * 8 / 9 * 5 / 7 * 3 / 5) ** 0.25
    m = grader.score(hyps, refs)
    assert m["bleu4"] == pytest.approx(expected, abs=1e-9)
    assert m["bleu1"] == pytest.approx(1.0)
    assert m["brevity_penalty"] == pytest.approx(math.exp(1 - 12 / 11))
    # the closest reference length counts, and any reference may supply an n-gram
    m = grader.score(["a b c d e"], [["a b c d e f", "x y z w v u t s r"]])
    assert m["bleu4"] == pytest.approx(math.exp(1 - 6 / 5))


def test_repeating_words_or_captions_does_not_pay(grader):
    refs = [["a small red circle to the left of a big blue square"] * 5]
    honest = grader.score(["a small red circle to the left of a blue square"], refs)["bleu4"]
    # counts are clipped to the references: a second copy of the caption earns nothing and
    # halves every precision
    doubled = grader.score(["a small red circle to the left of a blue square " * 2], refs)
    # every word of the grammar, to hit whatever the references say
    soup = " ".join(f"a small big red blue circle square to the left of above {w}" for w in "xyz")
    kitchen = grader.score([soup], refs)
    assert honest > 0.7
    assert doubled["bleu4"] < 0.55 * honest
    assert kitchen["bleu4"] < 0.2


# --- the grader, in its sandbox -----------------------------------------------------------------


@requires_bwrap
def test_a_reference_caption_scores_one_and_a_constant_scores_far_less(refs, grade_files):
    ids = refs.index.tolist()
    exact = grade_files(TASK, submission(ids, refs["caption_1"]), split="test")
    assert exact.ok, exact.message
    assert exact.score == pytest.approx(1.0)
    assert exact.metrics["images"] == 40
    # the most common caption of the training set, for every image
    train = pd.read_csv(prepare_data(get_task(TASK), "tiny").public / "train.csv", dtype=str)
    common = train.filter(like="caption_").stack().value_counts().index[0]
    constant = grade_files(TASK, submission(ids, [common] * len(ids)), split="test")
    # a caption of another image: right words, wrong picture
    shifted = grade_files(TASK, submission(ids, np.roll(refs["caption_1"], 1)), split="test")
    # the 50 most common words of the training captions, for every image: clipped to their
    # counts in the references, most of them earn nothing
    words = train.filter(like="caption_").stack().str.split().explode().value_counts()
    soup = grade_files(TASK, submission(ids, [" ".join(words.index[:50])] * len(ids)))
    assert constant.ok and shifted.ok and soup.ok
    assert constant.score < 0.3 and shifted.score < 0.3 and soup.score < 0.05


@requires_bwrap
def test_scores_join_on_id_and_dev_differs_from_test(refs, grade_files):
    ids = refs.index.to_numpy()
    caps = refs["caption_2"].to_numpy()
    order = np.random.default_rng(0).permutation(len(ids))
    straight = grade_files(TASK, submission(ids, caps))
    shuffled = grade_files(TASK, submission(ids[order], caps[order]))
    assert straight.ok and straight.score == shuffled.score == pytest.approx(1.0)
    # a score column of the agent's own (MLGym averages one) is ignored
    rows = "".join(f"{i},a red box,1.0\n" for i in ids)
    claimed = grade_files(TASK, {"submission.csv": "id,caption,bleu_score\n" + rows})
    assert claimed.ok, claimed.message
    assert claimed.score < 0.2
    mixed = np.where(np.arange(len(ids)) % 2 == 0, caps, "a small red circle in the middle")
    dev = grade_files(TASK, submission(ids, mixed), split="dev")
    test = grade_files(TASK, submission(ids, mixed), split="test")
    assert dev.metrics["images"] == test.metrics["images"] == 40
    assert dev.score != test.score


def test_captions_are_read_as_text_and_whitespace_does_not_count(grader, refs, tmp_path):
    ids = refs.index.tolist()
    file = tmp_path / "submission.csv"
    caps = [f"  {c.replace(' ', '   ')} \t" for c in refs["caption_1"]]
    caps[0] = "NA null None nan"  # words pandas would otherwise read as missing
    pd.DataFrame({"caption": caps, "id": ids}).to_csv(file, index=False)
    got = grader.read_submission(file, ids)
    assert got[ids[0]] == "NA null None nan"
    assert got[ids[1]] == refs["caption_1"].iloc[1]


@requires_bwrap
@pytest.mark.parametrize(
    ("make", "status", "needle"),
    [
        (lambda ids, caps: {}, GradeStatus.no_artifact, "submission.csv"),
        (lambda ids, caps: {"submission.csv": ""}, GradeStatus.invalid_artifact, "empty"),
        (
            lambda ids, caps: {"submission.csv": b"\x00\xff\x00garbage"},
            GradeStatus.invalid_artifact,
            "submission.csv",
        ),
        (
            lambda ids, caps: submission(ids, caps, header="id,text"),
            GradeStatus.invalid_artifact,
            "caption",
        ),
        (
            lambda ids, caps: submission(ids[:-3], caps[:-3]),
            GradeStatus.invalid_artifact,
            "no caption for 3 of the 80 images",
        ),
        (
            lambda ids, caps: submission([*ids, ids[5]], [*caps, caps[5]]),
            GradeStatus.invalid_artifact,
            "more than once",
        ),
        (
            lambda ids, caps: submission([*ids, "train-00001"], [*caps, "a red box"]),
            GradeStatus.invalid_artifact,
            "not in data/test.csv",
        ),
        (
            lambda ids, caps: submission(ids, ["", *caps[1:]]),
            GradeStatus.invalid_artifact,
            "is empty",
        ),
        (
            lambda ids, caps: submission(ids, ["   ", *caps[1:]]),
            GradeStatus.invalid_artifact,
            "is empty",
        ),
        (
            lambda ids, caps: submission(ids, [3.14, *caps[1:]]),
            GradeStatus.invalid_artifact,
            "no words",
        ),
        (
            lambda ids, caps: submission(ids, [" ".join(["circle"] * 51), *caps[1:]]),
            GradeStatus.invalid_artifact,
            "at most 50 words",
        ),
        (
            lambda ids, caps: submission(ids, ["x" * 600, *caps[1:]]),
            GradeStatus.invalid_artifact,
            "500 characters",
        ),
    ],
    ids=[
        "missing",
        "empty-file",
        "binary",
        "wrong-column",
        "missing-rows",
        "duplicate-id",
        "unknown-id",
        "empty-caption",
        "blank-caption",
        "number-caption",
        "too-many-words",
        "too-long",
    ],
)
def test_malformed_submissions_get_a_typed_outcome(make, status, needle, refs, grade_files):
    ids, caps = refs.index.tolist(), refs["caption_1"].tolist()
    g = grade_files(TASK, make(ids, caps))
    assert g.status == status, g.message
    assert needle in g.message
    assert len(g.message) < 600


@requires_bwrap
@pytest.mark.parametrize("script", ["starter/baseline.py", "reference/reference.py"])
def test_baseline_and_reference_write_a_gradable_submission(
    script, data, grade_files, tmp_path, monkeypatch
):
    """Each solution runs on the tiny data for one epoch (the default variant's full runs are
    the slow test's) and leaves a submission the real grader scores."""
    (tmp_path / "data").symlink_to(data.public)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    module = load_module(f"rgym_test_caption_{Path(script).stem}", ROOT / script)
    monkeypatch.setattr(module, "EPOCHS", 1)
    module.main()
    g = grade_files(TASK, {"submission.csv": (tmp_path / "submission.csv").read_text()})
    assert g.ok, g.message
    assert 0 <= g.score < 1 and g.metrics["images"] == 40


# --- full: MS-COCO through Hugging Face datasets, on a local copy --------------------------------


def coco_spec(rgym_cache):
    """The task with its `full` variant pointed at the local stand-in (no network, no GPU)."""
    spec = get_task(TASK).model_copy(deep=True)
    full = spec.variants["full"]
    full.data = {**full.data, "path": str(FIXTURE), "image_size": 32}
    full.requires = []
    full.resources.gpus = 0
    return spec


def test_coco_recipe_reads_the_hugging_face_layout(recipe):
    images, captions = recipe.load_coco("unused", "val", str(FIXTURE), 24, None)
    assert images.shape == (24, 24, 24, 3) and images.dtype == np.uint8
    assert all(len(c) == 5 for c in captions)  # the first five of five to seven
    assert captions[0][4] == "Red ball, nothing else"  # newlines and doubled spaces cleaned
    assert captions[0][2].endswith("picture.")
    some, _ = recipe.load_coco("unused", "val", str(FIXTURE), 24, 5)
    assert np.array_equal(some, images[:5])
    with pytest.raises(DataUnavailable, match="split 'train'"):
        recipe.load_coco("unused", "train", str(FIXTURE), 24, None)


def test_coco_recipe_names_a_dataset_without_captions(recipe, tmp_path):
    import datasets

    folder = tmp_path / "nocaptions"
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text((FIXTURE / "README.md").read_text())
    table = datasets.load_dataset(str(FIXTURE), split="val", cache_dir=str(tmp_path / "c"))
    table.remove_columns(["answer"]).to_parquet(folder / "data" / "val-00000-of-00001.parquet")
    with pytest.raises(DataUnavailable, match=r"no column\(s\) \['answer'\]"):
        recipe.load_coco("unused", "val", str(folder), 24, None)


@requires_bwrap
def test_coco_variant_is_prepared_and_graded_like_the_default(rgym_cache, backend, tmp_path):
    spec = coco_spec(rgym_cache)
    data = prepare_data(spec, "full")
    train = pd.read_csv(data.public / "train.csv", dtype=str)
    test = pd.read_csv(data.public / "test.csv", dtype=str)
    assert np.load(data.public / "train_images.npy").shape == (18, 32, 32, 3)
    assert np.load(data.public / "test_images.npy").shape == (6, 32, 32, 3)
    assert len(train) == 18 and len(test) == 6
    hidden = pd.read_csv(data.private / "test.csv", dtype=str).set_index("id")
    dev = pd.read_csv(data.private / "dev.csv", dtype=str).set_index("id")
    truth = pd.concat([hidden, dev])
    caps = truth.loc[test["id"], "caption_4"].tolist()  # COCO captions, with capitals and stops
    (tmp_path / "submission.csv").write_text(
        pd.DataFrame({"id": test["id"], "caption": [c.upper() for c in caps]}).to_csv(index=False)
    )
    g = grade(spec, "full", tmp_path, "test", backend, data)
    assert g.ok, g.message
    assert g.score == pytest.approx(1.0)  # lower-cased before counting


# --- default, end to end (slow) -----------------------------------------------------------------


@requires_bwrap
@pytest.mark.slow
def test_verify_default():
    row = verify_task(get_task(TASK))
    assert row.ok, row.problems
    print(
        f"baseline {row.baseline.score:.4f} ({row.baseline.seconds:.0f} s), "
        f"reference {row.reference.score:.4f} ({row.reference.seconds:.0f} s)"
    )
    assert row.reference.score > row.baseline.score + 0.05
    assert row.seconds < 600
