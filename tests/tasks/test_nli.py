"""nli: WordNet-made inference pairs with labels by logic (default/tiny), MultiNLI (full).

The generator in-process (determinism per key, label balance, held-out word pairs, the logic
against a naive model checker), the lexicon's absence from a real episode's sandbox, the
grader on good and bad artefacts, and the MultiNLI recipe on a local fixture. Slow: verify on
the default variant, and the bag-of-words baseline against the order-reading reference.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import rgym
from rgym.errors import DataUnavailable
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from rgym.tasks.secret import Secrets
from rgym.tasks.verify import verify_task
from tests.conftest import unmeasured
from tests.tasks.conftest import requires_bwrap

TASK = "nli"
SPEC = get_task(TASK)
ROOT = SPEC.root
FIXTURE = Path(__file__).parents[1] / "fixtures" / "mnli"
WORDNET = Path("/usr/share/wordnet")
requires_wordnet = pytest.mark.skipif(
    not (WORDNET / "data.noun").is_file(), reason="WordNet (Debian wordnet-base) is not installed"
)
LABELS = ["entailment", "neutral", "contradiction"]


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


RECIPE = load_module("rgym_test_nli_prepare", ROOT / "prepare.py")
WN = RECIPE._generator()  # wordnet_nli.py (reading WordNet happens only when asked)


@pytest.fixture(scope="module")
def recipe():
    return RECIPE


@pytest.fixture(scope="module")
def wn():
    return WN


def prepare_with_key(recipe, tmp_path: Path, key: bytes, variant: str = "tiny"):
    """Run the recipe by hand with a given installation key; returns (public, private)."""
    out = tmp_path / f"{variant}-{key.hex()[:8]}-{len(list(tmp_path.iterdir()))}"
    public, private = out / "public", out / "private"
    public.mkdir(parents=True)
    private.mkdir()
    secrets = Secrets("secret", TASK, SPEC.seed, key)
    recipe.prepare(
        public,
        private,
        seed=SPEC.seed,
        variant=variant,
        secret_seed=secrets.seed_for,
        **SPEC.variant(variant).data,
    )
    return public, private


def texts(df: pd.DataFrame) -> set[tuple[str, str]]:
    """The (premise, hypothesis) pairs of a frame."""
    return set(zip(df["premise"], df["hypothesis"], strict=True))


def files(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())}


# --- the generator --------------------------------------------------------------------------


def prepare_in_subprocess(tmp_path: Path, key: bytes, hash_seed: int) -> tuple[Path, Path]:
    """The recipe in a fresh interpreter with its own string-hash seed: nothing may depend on
    the order of a set or dict of strings."""
    out = tmp_path / f"sub-{hash_seed}"
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from tests.tasks.test_nli import RECIPE, prepare_with_key;"
        "print(*prepare_with_key(RECIPE, Path(sys.argv[2]), bytes.fromhex(sys.argv[3])))"
    )
    out.mkdir()
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    res = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parents[2]), str(out), key.hex()],
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    public, private = res.stdout.split()
    return Path(public), Path(private)


@requires_wordnet
def test_same_key_same_data_another_key_other_data(recipe, tmp_path):
    a1 = prepare_in_subprocess(tmp_path, bytes(32), hash_seed=1)
    a2 = prepare_in_subprocess(tmp_path, bytes(32), hash_seed=2)
    b = prepare_with_key(recipe, tmp_path, bytes(range(32)))
    for x, y in zip(a1, a2, strict=True):
        assert files(x) == files(y)
    for name in ("train.csv", "test.csv"):
        assert (a1[0] / name).read_bytes() != (b[0] / name).read_bytes()
    # which pairs are dev, and the ids, come from the key too
    dev_a = pd.read_csv(a1[1] / "dev.csv")
    dev_b = pd.read_csv(b[1] / "dev.csv")
    assert len(dev_a) != len(dev_b) or list(dev_a["id"]) != list(dev_b["id"])


@requires_wordnet
def test_labels_are_balanced_and_dev_and_test_are_mixed(recipe, tmp_path):
    public, private = prepare_with_key(recipe, tmp_path, bytes(range(5, 37)))
    train = pd.read_csv(public / "train.csv")
    test = pd.read_csv(public / "test.csv")
    dev, final = pd.read_csv(private / "dev.csv"), pd.read_csv(private / "test.csv")
    counts = train["label"].value_counts()
    assert set(counts.index) == set(LABELS) and counts.max() - counts.min() <= 1
    hidden = pd.concat([dev, final])["label"].value_counts()
    assert set(hidden.index) == set(LABELS) and hidden.max() - hidden.min() <= 1
    assert set(dev["label"]) == set(final["label"]) == set(LABELS)
    assert sorted(test["id"]) == sorted([*dev["id"], *final["id"]])
    assert not set(dev["id"]) & set(final["id"])
    assert "label" not in test.columns
    # ids interleave: dev rows are not a block at either end of test.csv
    assert dev["id"].min() < final["id"].max() and final["id"].min() < dev["id"].max()
    assert not texts(train) & texts(test)
    info = (public / "info.json").read_text()
    assert f'"train_pairs": {len(train)}' in info and f'"test_pairs": {len(test)}' in info


def substituted(wn, lex, premise: str, hypothesis: str) -> frozenset[str] | None:
    """The two words of a one-word substitution (verbs back to their base form), else None."""
    p, h = premise.split(), hypothesis.split()
    if len(p) != len(h):
        return None
    diff = [(a, b) for a, b in zip(p, h, strict=True) if a != b]
    if len(diff) != 1 or {diff[0][0], diff[0][1]} & {"a", "an"}:
        return None
    base = {wn.third_person(v): v for v in lex.verbs}
    words = {base.get(w, w) for w in diff[0]}
    return frozenset(words) if words <= lex.vocabulary() else None


@requires_wordnet
def test_held_out_word_pairs_never_meet_in_training(recipe, wn, tmp_path):
    public, private = prepare_with_key(recipe, tmp_path, bytes(range(9, 41)))
    lex = wn.cached_lexicon(WORDNET, **SPEC.variant("tiny").data["lexicon"])
    train = pd.read_csv(public / "train.csv")
    hidden = pd.read_csv(public / "test.csv").merge(
        pd.concat([pd.read_csv(private / "dev.csv"), pd.read_csv(private / "test.csv")]), on="id"
    )
    seen = {substituted(wn, lex, p, h) for p, h in texts(train)}
    seen.discard(None)
    held = hidden[hidden["held_pair"]]
    pairs = {substituted(wn, lex, p, h) for p, h in texts(held)}
    pairs.discard(None)
    assert len(seen) > 50 and len(pairs) >= 5
    assert not pairs & seen
    # ...while the words themselves all occur in training
    train_words = set(" ".join([*train["premise"], *train["hypothesis"]]).split())
    assert {w for pair in pairs for w in pair} - train_words <= set(map(wn.third_person, lex.verbs))


# --- the logic ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy(wn):
    """A hand-made lexicon: dog, cat < animal (dog | cat); chase < pursue; hungry | full."""
    nodes = {"dog": "d", "cat": "c", "animal": "a", "chase": "v1", "pursue": "v2"}
    return wn.Lexicon(
        nouns={"dog": "animal", "cat": "animal", "animal": "animal"},
        node=nodes,
        ancestors={"d": {"a"}, "c": {"a"}, "a": set(), "v1": {"v2"}, "v2": set()},
        descendants={"d": {"d"}, "c": {"c"}, "a": {"a", "d", "c"}},
        verbs=["chase", "pursue"],
        verb_antonyms=set(),
        adjectives=["hungry", "full", "old"],
        adj_antonyms={frozenset({"hungry", "full"})},
        roles=["gift"],
    )


def T(q1, n1, verb, q2, n2, neg=False, a1=None, a2=None):
    return WN.Sentence("T", q1, (a1, n1), neg, verb, q2, (a2, n2))


def C(q1, n1, pred, neg=False, a1=None):
    return WN.Sentence("C", q1, (a1, n1), neg, pred=pred)


CASES = [
    # a hypernym entails in an upward position, and the other way round in a downward one
    (
        T("some", "dog", "chase", "every", "cat"),
        T("some", "animal", "chase", "every", "cat"),
        "entailment",
    ),
    (
        T("some", "animal", "chase", "every", "cat"),
        T("some", "dog", "chase", "every", "cat"),
        "neutral",
    ),
    (
        T("every", "dog", "chase", "some", "cat"),
        T("every", "animal", "chase", "some", "cat"),
        "neutral",
    ),
    (
        T("every", "animal", "chase", "some", "cat"),
        T("every", "dog", "chase", "some", "cat"),
        "entailment",
    ),
    # the same words, the noun in the object: its own quantifier and the subject's decide
    (
        T("every", "cat", "chase", "some", "dog"),
        T("every", "cat", "chase", "some", "animal"),
        "entailment",
    ),
    (T("no", "cat", "chase", "some", "dog"), T("no", "cat", "chase", "some", "animal"), "neutral"),
    (
        T("every", "cat", "chase", "some", "dog", neg=True),
        T("every", "cat", "chase", "some", "animal", neg=True),
        "neutral",
    ),
    (
        T("every", "cat", "chase", "some", "animal", neg=True),
        T("every", "cat", "chase", "some", "dog", neg=True),
        "entailment",
    ),
    # word order: swapped noun phrases, swapped quantifiers, a moved adjective
    (
        T("every", "dog", "chase", "some", "cat"),
        T("every", "cat", "chase", "some", "dog"),
        "neutral",
    ),
    (T("no", "dog", "chase", "some", "cat"), T("some", "dog", "chase", "no", "cat"), "entailment"),
    (T("some", "dog", "chase", "no", "cat"), T("no", "dog", "chase", "some", "cat"), "neutral"),
    (
        T("every", "dog", "chase", "some", "cat", a1="old"),
        T("every", "dog", "chase", "some", "cat", a2="old"),
        "neutral",
    ),
    (
        T("every", "dog", "chase", "some", "cat", a2="old"),
        T("every", "dog", "chase", "some", "cat", a1="old"),
        "entailment",
    ),
    # verbs, quantifiers, negation
    (
        T("some", "dog", "chase", "a", "cat"),
        T("some", "dog", "pursue", "some", "cat"),
        "entailment",
    ),
    (
        T("every", "dog", "chase", "each", "cat"),
        T("not every", "dog", "chase", "every", "cat"),
        "contradiction",
    ),
    (T("each", "dog", "chase", "some", "cat"), T("a", "dog", "chase", "some", "cat"), "entailment"),
    # disjoint words contradict only where the logic says so
    (C("every", "gift", (None, "dog")), C("every", "gift", (None, "cat")), "contradiction"),
    (C("some", "gift", (None, "dog")), C("some", "gift", (None, "cat")), "neutral"),
    (C("every", "dog", "hungry"), C("every", "dog", "full"), "contradiction"),
    (C("no", "dog", "hungry"), C("no", "dog", "full"), "neutral"),
    (C("every", "dog", "hungry"), C("every", "dog", "hungry", neg=True), "contradiction"),
    (C("some", "dog", "hungry"), C("some", "dog", "hungry", neg=True), "neutral"),
]


@pytest.mark.parametrize("premise,hypothesis,expected", CASES)
def test_labels_follow_meaning_and_word_order(wn, toy, premise, hypothesis, expected):
    assert wn.label(*wn.meaning(toy, premise, hypothesis)) == expected, (
        wn.render(premise),
        wn.render(hypothesis),
    )


def test_sentences_read_as_english(wn):
    assert wn.render(T("a", "animal", "chase", "a", "cat", neg=True, a2="old")) == (
        "an animal does not chase an old cat"
    )
    assert wn.render(T("not every", "dog", "pursue", "no", "cat")) == (
        "not every dog pursues no cat"
    )
    assert wn.render(C("each", "gift", ("old", "animal"), neg=True)) == (
        "each gift is not an old animal"
    )
    assert [wn.third_person(v) for v in ("buy", "carry", "watch", "go", "play")] == [
        "buys",
        "carries",
        "watches",
        "goes",
        "plays",
    ]


def naive_label(premise: tuple, hypothesis: tuple, urel: tuple, brel: tuple, d: int):
    """Every interpretation over a domain of size 1..d, verbs as whole relations (slow)."""
    k = 1 + max(max(s[2], s[-1]) for s in (premise, hypothesis))
    m = 1 + max((s[4] for s in (premise, hypothesis) if s[0] == "T"), default=-1)
    ok = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: (not a) or b,
        ">": lambda a, b: a or not b,
        "|": lambda a, b: not (a and b),
        "#": lambda a, b: True,
    }

    def quant(q, restr, scope):
        every = all(s for r, s in zip(restr, scope, strict=True) if r)
        some = any(r and s for r, s in zip(restr, scope, strict=True))
        return {"every": every, "notevery": not every, "some": some, "no": not some}[q]

    def truth(s, u, b, n):
        if s[0] == "C":
            _, q1, r1, neg, p = s
            return quant(q1, [u[r1][x] for x in range(n)], [u[p][x] != neg for x in range(n)])
        _, q1, r1, neg, v, q2, r2 = s
        inner = [
            quant(q2, [u[r2][y] for y in range(n)], [b[v][x][y] for y in range(n)]) != neg
            for x in range(n)
        ]
        return quant(q1, [u[r1][x] for x in range(n)], inner)

    seen = set()
    for n in range(1, d + 1):
        for bits in itertools.product([False, True], repeat=k * n):
            u = [bits[i * n : (i + 1) * n] for i in range(k)]
            if not all(any(row) for row in u):
                continue
            if not all(ok[r](u[i][x], u[j][x]) for i, j, r in urel for x in range(n)):
                continue
            for bbits in itertools.product([False, True], repeat=m * n * n):
                b = [
                    [bbits[v * n * n + x * n : v * n * n + x * n + n] for x in range(n)]
                    for v in range(m)
                ]
                cells = [(x, y) for x in range(n) for y in range(n)]
                if not all(ok[r](b[i][x][y], b[j][x][y]) for i, j, r in brel for x, y in cells):
                    continue
                seen.add((truth(premise, u, b, n), truth(hypothesis, u, b, n)))
    if {p for p, _ in seen} != {True, False} or {h for _, h in seen} != {True, False}:
        return None
    if (True, False) not in seen:
        return "entailment"
    return "neutral" if (True, True) in seen else "contradiction"


def sample_pairs(wn, n: int, seed: int):
    """Abstract (premise, hypothesis, relations) the generator makes, over the tiny lexicon."""
    lex = wn.cached_lexicon(WORDNET, **SPEC.variant("tiny").data["lexicon"])
    gen = wn.Generator(lex, random.Random(seed), held_salt=1, held_frac=0.25)
    out = set()
    while len(out) < n:
        p = gen.premise()
        got = gen.edit(p, gen.pick(wn.EDIT_KINDS), None)
        if got:
            out.add(wn.meaning(lex, p, got[0]))
    return sorted(out, key=repr)


@requires_wordnet
def test_model_checker_agrees_with_naive_enumeration(wn):
    for pair in sample_pairs(wn, 40, seed=3):
        assert wn.label(*pair, domain=2) == naive_label(*pair, d=2), pair


@requires_wordnet
def test_three_individuals_decide_as_many_as_four(wn):
    for pair in sample_pairs(wn, 25, seed=4):
        assert wn.label(*pair, domain=3) == wn.label(*pair, domain=4), pair


@pytest.mark.slow
@requires_wordnet
def test_three_individuals_decide_as_many_as_four_or_five_on_many_pairs(wn):
    for pair in sample_pairs(wn, 300, seed=5):
        assert wn.label(*pair) == wn.label(*pair, domain=4), pair
    for pair in sample_pairs(wn, 20, seed=6):
        assert wn.label(*pair) == wn.label(*pair, domain=5), pair


# --- the lexicon stays outside every sandbox that runs agent code ----------------------------


@requires_bwrap
@requires_wordnet
def test_wordnet_is_invisible_in_an_episode():
    assert "/usr/share/wordnet" in SPEC.data.private_paths
    env = rgym.make(TASK, variant="tiny")
    try:
        with unmeasured():
            env.reset(seed=0)
        obs, *_ = env.step("ls -A /usr/share/wordnet | wc -l")
        assert obs.strip().splitlines()[0] == "0"
        obs, *_ = env.step(  # no copy of WordNet's files anywhere in the sandbox
            "find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o "
            "\\( -name 'data.noun' -o -name '*wordnet*.deb' -o -name train.csv \\) -print"
        )
        assert "data/train.csv" in obs  # the search ran (and saw the task's own data)
        assert "data.noun" not in obs and ".deb" not in obs
        obs, *_ = env.step("wn dog -hypen; echo rc=$?")
        assert "canine" not in obs
        obs, *_ = env.step("ls data")
        assert obs.split() == ["info.json", "test.csv", "train.csv"]
    finally:
        env.close()


@pytest.mark.slow
@requires_bwrap
@requires_wordnet
def test_the_baseline_earns_zero_in_an_episode():
    env = rgym.make(TASK, variant="tiny")
    try:
        env.reset(seed=0)
        obs, *_ = env.step("python baseline.py")
        assert "wrote submission.csv" in obs
        _, reward, terminated, _, info = env.step("submit")
        assert terminated and info["exit_status"] == "submitted"
        assert info["test_score"] == env.measured.baseline and reward == 0
    finally:
        env.close()


# --- the grader -----------------------------------------------------------------------------


def truth(spec=SPEC, variant="tiny") -> pd.DataFrame:
    data = prepare_data(spec, variant)
    return pd.concat([pd.read_csv(data.private / f"{s}.csv") for s in ("dev", "test")])


def csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False)


@requires_bwrap
@requires_wordnet
def test_perfect_and_constant_submissions(grade_files):
    rows = truth()[["id", "label"]].sort_values("id")
    for split in ("dev", "test"):
        g = grade_files(TASK, {"submission.csv": csv(rows)}, split)
        assert g.ok and g.score == 1.0, g.message
        assert g.metrics["pairs"] == len(
            pd.read_csv(prepare_data(SPEC, "tiny").private / f"{split}.csv")
        )
    # numbers in MultiNLI's order, any case and spacing, any row order
    numbers = rows.assign(label=rows["label"].map(LABELS.index)).sample(frac=1, random_state=0)
    g = grade_files(TASK, {"submission.csv": csv(numbers)})
    assert g.ok and g.score == 1.0, g.message
    shouty = rows.assign(label=" " + rows["label"].str.upper())
    assert grade_files(TASK, {"submission.csv": csv(shouty)}).score == 1.0
    dev = pd.read_csv(prepare_data(SPEC, "tiny").private / "dev.csv")
    g = grade_files(TASK, {"submission.csv": csv(rows.assign(label="neutral"))})
    assert g.ok and g.score == pytest.approx((dev["label"] == "neutral").mean())
    if "accuracy_unseen_word_pairs" in g.metrics:
        held = dev[dev["held_pair"]]
        assert g.metrics["accuracy_unseen_word_pairs"] == pytest.approx(
            (held["label"] == "neutral").mean()
        )


@requires_bwrap
@requires_wordnet
@pytest.mark.parametrize(
    "change,message",
    [
        (lambda d: d.iloc[1:], "no prediction for 1 of"),
        (lambda d: pd.concat([d, d.iloc[:1]]), "twice"),
        (lambda d: pd.concat([d, d.iloc[:1].assign(id=10**6)]), "not in data/test.csv"),
        (lambda d: d.assign(label=["maybe"] + ["neutral"] * (len(d) - 1)), "'maybe' is not one"),
        (lambda d: d.assign(label=3), "'3' is not one"),
        (lambda d: d.assign(id=["x"] + list(d["id"][1:])), "must be an id"),
        (lambda d: d.rename(columns={"label": "prediction"}), "no column(s) label"),
    ],
)
def test_bad_submissions_are_invalid_with_a_reason(grade_files, change, message):
    rows = truth()[["id", "label"]].sort_values("id")
    g = grade_files(TASK, {"submission.csv": csv(change(rows))})
    assert not g.ok and str(g.status) == "invalid_artifact" and message in g.message, g.message


@requires_bwrap
def test_missing_or_unreadable_submission(grade_files):
    g = grade_files(TASK, {"other.csv": "id,label\n"})
    assert not g.ok and "submission.csv" in g.message
    g = grade_files(TASK, {"submission.csv": b"\x00\xff\x00garbage"})
    assert not g.ok


# --- full: MultiNLI, here from a local fixture in its schema -----------------------------------


@pytest.fixture(scope="module")
def full_spec():
    spec = SPEC.model_copy(deep=True)
    spec.variants["full"].data["mnli"] = str(FIXTURE)
    return spec


def test_multinli_recipe_on_the_fixture(full_spec):
    assert "network" in SPEC.variant("full").requires
    data = prepare_data(full_spec, "full")
    train = pd.read_csv(data.public / "train.csv")
    test = pd.read_csv(data.public / "test.csv")
    dev, final = pd.read_csv(data.private / "dev.csv"), pd.read_csv(data.private / "test.csv")
    source_train = pd.read_json(FIXTURE / "train.jsonl", lines=True)
    matched = pd.read_json(FIXTURE / "validation_matched.jsonl", lines=True)
    # the matched validation set is the test split; dev is a slice of train, removed from it
    assert len(final) == len(matched) and 0 < len(dev) <= len(source_train) // 10 + 2
    assert len(train) + len(dev) == len(source_train)
    hidden = test.merge(pd.concat([dev.assign(s="dev"), final.assign(s="test")]), on="id")
    assert texts(hidden[hidden["s"] == "test"]) == texts(matched)
    dev_text = texts(hidden[hidden["s"] == "dev"])
    assert dev_text <= texts(source_train)
    assert not dev_text & texts(train)
    # whole premises are held out: no dev premise is seen in training
    assert not {p for p, _ in dev_text} & set(train["premise"])
    # labels as words, from MultiNLI's numbers
    by_text = {(r["premise"], r["hypothesis"]): r["label"] for _, r in matched.iterrows()}
    for _, r in hidden[hidden["s"] == "test"].iterrows():
        assert r["label"] == LABELS[by_text[(r["premise"], r["hypothesis"])]]
    assert list(train.columns) == ["id", "premise", "hypothesis", "genre", "label"]
    assert list(test.columns) == ["id", "premise", "hypothesis", "genre"]


def test_multinli_recipe_says_what_is_missing(tmp_path):
    spec = SPEC.model_copy(deep=True)
    spec.variants["full"].data["mnli"] = str(tmp_path)  # a folder without MultiNLI's files
    with pytest.raises(DataUnavailable, match="has no train.jsonl or train.parquet"):
        prepare_data(spec, "full")


@requires_bwrap
def test_multinli_grading_on_the_fixture(full_spec, grade_files):
    rows = truth(full_spec, "full")[["id", "label"]]
    for split in ("dev", "test"):
        g = grade_files(full_spec, {"submission.csv": csv(rows)}, split, variant="full")
        assert g.ok and g.score == 1.0, g.message
        assert "accuracy_unseen_word_pairs" not in g.metrics


def run_script(script: Path, data: Path, tmp_path: Path, *args: str) -> tuple[str, pd.DataFrame]:
    """Run a starter or reference script in a scratch workspace over prepared data."""
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    if not (ws / "data").exists():
        (ws / "data").symlink_to(data)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run(
        [sys.executable, str(script), *args], cwd=ws, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout, pd.read_csv(ws / "submission.csv")


@pytest.mark.slow
def test_baseline_says_it_trains_from_scratch_without_local_weights(full_spec, tmp_path):
    data = prepare_data(full_spec, "full")
    log, sub = run_script(ROOT / "starter" / "baseline.py", data.public, tmp_path, "--epochs", "1")
    assert "no pretrained encoder 'bert-base-uncased' available locally" in log
    assert "training the bag of embeddings from scratch" in log
    assert sorted(sub["id"]) == sorted(pd.read_csv(data.public / "test.csv")["id"])
    assert set(sub["label"]) <= set(LABELS)


@pytest.mark.slow
def test_baseline_fine_tunes_a_local_encoder(full_spec, tmp_path):
    """A tiny randomly initialised BERT saved to a folder stands in for pretrained weights."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    data = prepare_data(full_spec, "full")
    text = pd.concat([pd.read_csv(data.public / f) for f in ("train.csv", "test.csv")])
    words = sorted(
        set(
            re.findall(r"\w+|[^\w\s]", " ".join(text["premise"] + " " + text["hypothesis"]).lower())
        )
    )
    enc = tmp_path / "tiny-bert"
    enc.mkdir()
    (enc / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])
    )
    BertTokenizerFast(vocab_file=str(enc / "vocab.txt")).save_pretrained(enc)
    config = BertConfig(
        vocab_size=len(words) + 5,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
    )
    BertForSequenceClassification(config).save_pretrained(enc)
    log, sub = run_script(
        ROOT / "starter" / "baseline.py", data.public, tmp_path, "--encoder", str(enc)
    )
    assert "no pretrained encoder" not in log and "epoch 1/1" in log
    assert sorted(sub["id"]) == sorted(pd.read_csv(data.public / "test.csv")["id"])


# --- default variant end to end (slow) --------------------------------------------------------


@pytest.mark.slow
@requires_bwrap
@requires_wordnet
def test_verify_default():
    row = verify_task(SPEC, "default")
    assert row.ok, row.problems
    assert row.reference.score - row.baseline.score > 0.05
    print(
        f"baseline {row.baseline.score:.4f} ({row.baseline.seconds:.0f} s), reference "
        f"{row.reference.score:.4f} ({row.reference.seconds:.0f} s), {row.seconds:.0f} s in all"
    )


BAG_EQUAL = {"swap", "move"}
"""Edits that only reorder words: the two sentences have the same bag of words."""


@pytest.mark.slow
@requires_wordnet
def test_bag_of_words_is_clearly_below_a_model_that_reads_order(tmp_path):
    data = prepare_data(SPEC, "default")
    hidden = pd.concat([pd.read_csv(data.private / f"{s}.csv") for s in ("dev", "test")])
    scores = {}
    for name, script in (("bag", "starter/baseline.py"), ("order", "reference/reference.py")):
        _, sub = run_script(ROOT / script, data.public, tmp_path)
        got = hidden.merge(sub.rename(columns={"label": "pred"}), on="id")
        right = got["pred"] == got["label"]
        bag_equal = got["edit"].isin(BAG_EQUAL)
        scores[name] = (right.mean(), right[bag_equal].mean(), right[got["held_pair"]].mean())
        print(
            name, "all, same bag of words, unseen word pairs:", *(f"{x:.4f}" for x in scores[name])
        )
    assert scores["order"][0] > scores["bag"][0] + 0.05
    assert scores["order"][1] > scores["bag"][1] + 0.15
