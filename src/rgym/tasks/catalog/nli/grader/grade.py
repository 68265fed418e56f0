"""NLI grader: accuracy of submission.csv on the dev or test pairs, joined on id.

Labels may be written as words (entailment, neutral, contradiction) or as MultiNLI's numbers
(0, 1, 2 in that order). Every check covers all rows of data/test.csv, so no message tells
which pairs are dev and which are test.
"""

import pandas as pd
import rgym_grade
from rgym_grade import Invalid

LABELS = ("entailment", "neutral", "contradiction")
SPELLINGS = {**{w: w for w in LABELS}, **{str(i): w for i, w in enumerate(LABELS)}}


def main(args):
    truth = pd.read_csv(args.private / f"{args.split}.csv")
    wanted = pd.read_csv(args.public / "test.csv", usecols=["id"])["id"]
    sub = rgym_grade.read_csv(args.artifact, ["id", "label"])
    ids = pd.to_numeric(sub["id"], errors="coerce")
    if ids.isna().any() or (ids % 1 != 0).any():
        bad = sub["id"][ids.isna() | (ids % 1 != 0)].iloc[0]
        raise Invalid(
            f"submission.csv: every id must be an id of data/test.csv; got {str(bad)[:40]!r}"
        )
    sub = sub.assign(id=ids.astype("int64"))
    if sub["id"].duplicated().any():
        raise Invalid(
            f"submission.csv lists id {sub.loc[sub['id'].duplicated(), 'id'].iloc[0]} twice"
        )
    unknown = sub.loc[~sub["id"].isin(wanted), "id"]
    if len(unknown):
        raise Invalid(
            f"submission.csv has {len(unknown)} ids that are not in data/test.csv (e.g. "
            f"{unknown.iloc[0]}); predict the pairs of data/test.csv only"
        )
    missing = wanted[~wanted.isin(sub["id"])]
    if len(missing):
        raise Invalid(
            f"submission.csv has no prediction for {len(missing)} of the {len(wanted)} pairs of "
            f"data/test.csv (e.g. id {missing.iloc[0]}); predict every row"
        )
    labels = sub["label"].astype(str).str.strip().str.lower().map(SPELLINGS)
    if labels.isna().any():
        bad = sub["label"][labels.isna()].iloc[0]
        raise Invalid(
            f"submission.csv: label {str(bad)[:40]!r} is not one of entailment, neutral, "
            "contradiction (or 0, 1, 2 in that order)"
        )
    pred = pd.Series(labels.to_numpy(), index=sub["id"]).loc[truth["id"]].to_numpy()
    right = pred == truth["label"].to_numpy()
    metrics = {"accuracy": right.mean(), "pairs": len(truth)}
    if "held_pair" in truth:  # pairs whose two words never meet in training
        held = truth["held_pair"].astype(bool).to_numpy()
        if held.any():
            metrics["accuracy_unseen_word_pairs"] = right[held].mean()
    return metrics


if __name__ == "__main__":
    rgym_grade.run(main)
