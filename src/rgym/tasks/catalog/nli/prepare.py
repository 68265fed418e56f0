"""Natural-language inference data: premise/hypothesis pairs labelled entailment, neutral or
contradiction.

`default` and `tiny` generate the pairs from WordNet (Debian `wordnet-base`) with
wordnet_nli.py: real words, their real relations, labels computed by logic. `full` is MultiNLI
through Hugging Face `datasets`: its matched validation set is the test split and a held-out
slice of its training set the dev split.

The agent gets data/train.csv (id, premise, hypothesis, label) and data/test.csv (id,
premise, hypothesis), which mixes the dev and test pairs in one random order, so `validate`
cannot tell which rows it scores. Everything that decides a score comes from `secret_seed`
(this installation's key; the task seed in public-seed mode): the sizes, the sentences, which
word pairs are kept out of training, which hidden pairs are dev and which test, and the ids.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import tempfile
from pathlib import Path

import pandas as pd

LABELS = ("entailment", "neutral", "contradiction")  # MultiNLI's order: label 0, 1, 2


def _generator():
    """wordnet_nli.py, next to this file (recipes are loaded by path, not as a package)."""
    name = "rgym_nli_wordnet"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("wordnet_nli.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def prepare(
    public: Path,
    private: Path,
    *,
    seed: int,
    variant: str,
    secret_seed,
    source: str = "wordnet",
    train: int = 40_000,
    hidden: int = 6_000,
    dev_frac: float = 0.4,
    wordnet: str = "/usr/share/wordnet",
    lexicon: dict | None = None,
    held_frac: float = 0.25,
    mnli: str = "nyu-mll/multi_nli",
    dev: int = 10_000,
) -> None:
    key = secret_seed("pairs", seed)
    if source == "mnli":
        train_df, hidden_df, n_dev = _multinli(mnli, dev, key)
    else:
        train_df, hidden_df, n_dev = _wordnet(
            Path(wordnet), train, hidden, dev_frac, lexicon or {}, held_frac, key
        )
    # the first n_dev hidden pairs are dev; random ids then mix dev and test in one order
    n = len(hidden_df)
    ids = random.Random(f"{key}:ids").sample(range(1, n + 1), n)
    hidden_df = hidden_df.assign(split=["dev"] * n_dev + ["test"] * (n - n_dev), id=ids)
    hidden_df = hidden_df.sort_values("id")
    train_df.insert(0, "id", range(1, len(train_df) + 1))

    text = ["premise", "hypothesis", *(["genre"] if "genre" in train_df else [])]
    train_df[["id", *text, "label"]].to_csv(public / "train.csv", index=False)
    hidden_df[["id", *text]].to_csv(public / "test.csv", index=False)
    extra = [c for c in ("edit", "held_pair", "genre") if c in hidden_df]
    for name in ("dev", "test"):
        part = hidden_df[hidden_df["split"] == name]
        part[["id", "label", *extra]].to_csv(private / f"{name}.csv", index=False)
    info = {
        "variant": variant,
        "source": source,
        "labels": list(LABELS),
        "train_pairs": len(train_df),
        "test_pairs": len(hidden_df),
    }
    (public / "info.json").write_text(json.dumps(info, indent=1) + "\n")


def _wordnet(
    root: Path, n_train: int, n_hidden: int, dev_frac: float, lexicon: dict, held_frac, key
):
    """Generated pairs; the sizes vary by up to 10% with the key."""
    wn = _generator()
    rng = random.Random(f"{key}:sizes")
    n_train = round(n_train * rng.uniform(0.9, 1.1))
    n_hidden = round(n_hidden * rng.uniform(0.9, 1.1))
    lex = wn.cached_lexicon(root, **lexicon)
    train, hidden = wn.generate(
        lex, key, n_train=n_train, n_hidden=n_hidden, held_salt=key, held_frac=held_frac
    )
    return pd.DataFrame(train), pd.DataFrame(hidden), round(n_hidden * dev_frac)


def _multinli(source: str, n_dev: int, key):
    """MultiNLI's train (minus a dev slice of about `n_dev` pairs) and its matched validation
    set (the test split).

    `source` is a Hugging Face dataset name, or a local folder with `train` and
    `validation_matched` as .jsonl or .parquet files in MultiNLI's schema (tests use one)."""
    import datasets

    datasets.disable_progress_bars()
    folder = Path(source)
    if folder.is_dir():
        files = {}
        for split in ("train", "validation_matched"):
            found = sorted(folder.glob(f"{split}.*"))
            if not found:
                raise FileNotFoundError(f"{folder} has no {split}.jsonl or {split}.parquet")
            files[split] = str(found[0])
        kind = "parquet" if files["train"].endswith(".parquet") else "json"
        with tempfile.TemporaryDirectory() as cache:  # no copy left in ~/.cache
            ds = datasets.load_dataset(kind, data_files=files, cache_dir=cache)
            ds = {split: ds[split].to_pandas() for split in files}
    else:
        try:
            ds = datasets.load_dataset(source)
        except Exception as e:  # offline, unknown name, hub errors: say what to do
            from rgym.errors import DataUnavailable

            raise DataUnavailable(
                f"could not load MultiNLI ({source!r}) with Hugging Face datasets: "
                f"{type(e).__name__}: {str(e)[:300]}. The full variant downloads it once (this "
                "needs the network), or reads a local folder with train and validation_matched "
                "as .jsonl or .parquet files: set the variant's data option `mnli` to it."
            ) from None
        ds = {split: ds[split].to_pandas() for split in ("train", "validation_matched")}
    frames = {}
    for split in ("train", "validation_matched"):
        df = ds[split]
        df = df[df["label"].isin([0, 1, 2])]  # -1: no gold label
        df = df.assign(label=df["label"].map(dict(enumerate(LABELS))))
        frames[split] = df[["premise", "hypothesis", "genre", "label"]].reset_index(drop=True)
    train = frames["train"]
    # whole premises go to dev (MultiNLI pairs each premise with three hypotheses): a dev
    # premise never appears in train.csv, as no test premise does
    premises = sorted(set(train["premise"]))
    random.Random(f"{key}:dev rows").shuffle(premises)
    sizes = train.groupby("premise").size()
    want, chosen = min(n_dev, len(train) // 10), set()
    for p in premises:
        if want <= 0:
            break
        chosen.add(p)
        want -= sizes[p]
    is_dev = train["premise"].isin(chosen)
    hidden = pd.concat([train[is_dev], frames["validation_matched"]], ignore_index=True)
    return train[~is_dev].reset_index(drop=True), hidden, int(is_dev.sum())
