"""Titanic grader: accuracy of submission.csv on the dev or test passengers, joined on id."""

import pandas as pd
import rgym_grade
from rgym_grade import Invalid


def main(args):
    truth = pd.read_csv(args.private / f"{args.split}.csv")
    sub = rgym_grade.read_csv(args.artifact, ["PassengerId", "Survived"])
    if sub["PassengerId"].duplicated().any():
        dup = sub.loc[sub["PassengerId"].duplicated(), "PassengerId"].iloc[0]
        raise Invalid(f"submission.csv lists PassengerId {dup} more than once")
    merged = truth.merge(sub, on="PassengerId", how="left", suffixes=("_true", ""))
    missing = merged["Survived"].isna().sum()
    if missing:
        example = merged.loc[merged["Survived"].isna(), "PassengerId"].iloc[0]
        raise Invalid(
            f"submission.csv has no prediction for {missing} passenger(s) of data/test.csv "
            f"(e.g. PassengerId {example}); predict every row of data/test.csv"
        )
    pred = pd.to_numeric(merged["Survived"], errors="coerce")
    if pred.isna().any() or not pred.isin([0, 1]).all():
        raise Invalid("the Survived column must hold 0 or 1 for every passenger")
    acc = float((pred.astype(int) == merged["Survived_true"]).mean())
    return {"accuracy": acc, "n": len(merged)}


if __name__ == "__main__":
    rgym_grade.run(main)
