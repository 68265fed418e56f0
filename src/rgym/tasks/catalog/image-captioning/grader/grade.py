"""Image-captioning grader: corpus BLEU-4 of submission.csv against the hidden references.

The score is computed here, from the agent's captions and the five private reference captions
of each dev or test image, with sacrebleu (corpus BLEU, 13a tokenisation, lower-cased, the
standard exponential smoothing), reported on a 0-1 scale. Nothing the agent writes but its
captions enters the score. Every check covers all images of data/test.csv, so no message tells
which images are dev and which test.
"""

import pandas as pd
import rgym_grade
from rgym_grade import Invalid
from sacrebleu.metrics import BLEU

MAX_WORDS = 50
"""Longest caption graded, in whitespace-separated words (references have 4 to 30)."""
MAX_CHARS = 500
BLEU_OPTIONS = {"tokenize": "13a", "lowercase": True}


def short(text: str, n: int = 40) -> str:
    """A piece of the agent's text, for a message."""
    text = repr(text)
    return text if len(text) <= n else text[:n] + "…"


def read_submission(path, wanted: list[str]) -> dict[str, str]:
    """id -> caption (whitespace normalised) for every image of data/test.csv, or Invalid."""
    try:  # every cell as text: a caption "NA" or "null" is a caption, an empty cell is empty
        sub = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except Exception as e:  # pandas raises many types for bad files
        raise Invalid(
            f"submission.csv could not be read as CSV: {str(e).splitlines()[0]}"
        ) from None
    missing = [c for c in ("id", "caption") if c not in sub.columns]
    if missing:
        have = ", ".join(short(str(c)) for c in list(sub.columns)[:10])
        raise Invalid(
            f"submission.csv is missing column(s) {missing}; it has [{have}]; "
            "expected the header id,caption"
        )
    ids = sub["id"].str.strip()
    dup = ids[ids.duplicated()]
    if len(dup):
        raise Invalid(f"submission.csv lists id {short(dup.iloc[0])} more than once")
    known = set(wanted)
    unknown = ids[~ids.isin(known)]
    if len(unknown):
        raise Invalid(
            f"submission.csv has {len(unknown)} id(s) that are not in data/test.csv (e.g. "
            f"{short(unknown.iloc[0])}); ids look like {wanted[0]!r}"
        )
    captions = dict(zip(ids, sub["caption"], strict=True))
    absent = [i for i in wanted if i not in captions]
    if absent:
        raise Invalid(
            f"submission.csv has no caption for {len(absent)} of the {len(wanted)} images of "
            f"data/test.csv (e.g. id {absent[0]}); caption every image"
        )
    out = {}
    for i in wanted:
        words = captions[i].split()
        if not words:
            raise Invalid(f"the caption of id {i} is empty; write a caption for every image")
        if not any(ch.isalpha() for ch in captions[i]):
            raise Invalid(
                f"the caption of id {i} ({short(captions[i])}) has no words, only numbers or "
                "signs; write a sentence"
            )
        if len(words) > MAX_WORDS or len(captions[i]) > MAX_CHARS:
            raise Invalid(
                f"the caption of id {i} has {len(words)} words and {len(captions[i])} "
                f"characters; at most {MAX_WORDS} words and {MAX_CHARS} characters are graded"
            )
        out[i] = " ".join(words)
    return out


def score(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """Corpus BLEU of one caption per image against that image's references (0-1 scale)."""
    streams = [list(r) for r in zip(*references, strict=True)]  # sacrebleu: one list per ref
    bleu = BLEU(**BLEU_OPTIONS).corpus_score(hypotheses, streams)
    return {
        "bleu4": bleu.score / 100,
        "bleu1": bleu.precisions[0] / 100,
        "bleu2_precision": bleu.precisions[1] / 100,
        "bleu4_precision": bleu.precisions[3] / 100,
        "brevity_penalty": bleu.bp,
        "length_ratio": bleu.ratio,
        "images": len(hypotheses),
    }


def main(args):
    wanted = pd.read_csv(args.public / "test.csv", dtype=str)["id"].tolist()
    truth = pd.read_csv(args.private / f"{args.split}.csv", dtype=str, keep_default_na=False)
    captions = read_submission(args.artifact, wanted)
    refs = truth.filter(like="caption_").to_numpy().tolist()
    return score([captions[i] for i in truth["id"]], refs)


if __name__ == "__main__":
    rgym_grade.run(main)
