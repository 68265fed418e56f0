"""House-price grader: r2 and rmse of submission.csv on the dev or test houses, joined on Id.

The submission is checked against every house of data/test.csv (dev and test mixed) before the
split's rows are scored, so no message depends on which houses are dev and which are test.
"""

import numpy as np
import pandas as pd
import rgym_grade
from rgym_grade import Invalid


def main(args):
    truth = pd.read_csv(args.private / f"{args.split}.csv")
    wanted = pd.read_csv(args.public / "test.csv", usecols=["Id"])["Id"]
    sub = rgym_grade.read_csv(args.artifact, ["Id", "SalePrice"])
    ids = pd.to_numeric(sub["Id"], errors="coerce")
    if ids.isna().any() or (ids % 1 != 0).any():
        bad = sub["Id"][ids.isna() | (ids % 1 != 0)].iloc[0]
        raise Invalid(f"submission.csv has an Id that is not a whole number: {bad!r}")
    sub = pd.DataFrame({"Id": ids.astype("int64"), "SalePrice": sub["SalePrice"]})
    if sub["Id"].duplicated().any():
        dup = sub.loc[sub["Id"].duplicated(), "Id"].iloc[0]
        raise Invalid(f"submission.csv lists Id {dup} more than once")
    sub = sub.set_index("Id")
    missing = wanted[~wanted.isin(sub.index)]
    if len(missing):
        raise Invalid(
            f"submission.csv has no row for {len(missing)} of the {len(wanted)} houses "
            f"of data/test.csv (e.g. Id {missing.iloc[0]}); predict every row"
        )
    price = pd.to_numeric(sub.loc[wanted, "SalePrice"], errors="coerce")
    bad = price.isna() | ~np.isfinite(price)
    if bad.any():
        house = price.index[bad.to_numpy()][0]
        raise Invalid(
            f"SalePrice must be a finite number for every house; {int(bad.sum())} "
            f"are not (e.g. Id {house}: {sub.loc[house, 'SalePrice']!r})"
        )
    y = truth["SalePrice"].to_numpy(float)
    p = price.loc[truth["Id"]].to_numpy(float)
    rmse = float(np.sqrt(np.mean((y - p) ** 2)))
    r2 = float(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))
    return {"r2": r2, "rmse": rmse, "n": len(y)}


if __name__ == "__main__":
    rgym_grade.run(main)
