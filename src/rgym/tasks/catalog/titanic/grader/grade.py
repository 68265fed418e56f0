"""Titanic grader: accuracy of submission.csv on the dev or test passengers, joined on id."""

import pandas as pd
import rgym_grade
from rgym_grade import Invalid


def main(args):
    truth = pd.read_csv(args.private / f"{args.split}.csv")
    wanted = pd.read_csv(args.public / "test.csv", usecols=["PassengerId"])["PassengerId"]
    sub = rgym_grade.read_csv(args.artifact, ["PassengerId", "Survived"])
    if sub["PassengerId"].duplicated().any():
        dup = sub.loc[sub["PassengerId"].duplicated(), "PassengerId"].iloc[0]
        raise Invalid(f"submission.csv lists PassengerId {dup} more than once")
    sub = sub.set_index("PassengerId")
    # Every check covers all of data/test.csv, so no message tells which passengers are dev.
    missing = wanted[~wanted.isin(sub.index)]
    if len(missing):
        raise Invalid(
            f"submission.csv has no prediction for {len(missing)} of the {len(wanted)} "
            f"passengers of data/test.csv (e.g. PassengerId {missing.iloc[0]}); predict every row"
        )
    pred = pd.to_numeric(sub.loc[wanted, "Survived"], errors="coerce")
    if pred.isna().any() or not pred.isin([0, 1]).all():
        raise Invalid("the Survived column must hold 0 or 1 for every passenger")
    acc = float((pred.loc[truth["PassengerId"]].to_numpy() == truth["Survived"].to_numpy()).mean())
    return {"accuracy": acc, "n": len(truth)}


if __name__ == "__main__":
    rgym_grade.run(main)
