"""Fashion-MNIST grader: accuracy of submission.csv on the dev or test images, joined on id.

The submission must hold exactly one integer label (0-9) for every image of
data/test_images.npy (its id is its row). Every check covers all of those images, dev and test
mixed, before the split's rows are scored, so no message depends on which images are dev.
"""

import numpy as np
import pandas as pd
import rgym_grade
from rgym_grade import Invalid

N_CLASSES = 10


def whole_numbers(column: pd.Series, what: str) -> np.ndarray:
    """A column's values as floats that are whole numbers, or Invalid naming the first that is
    not (floats, so that a huge number is caught by the range checks, not wrapped round)."""
    if pd.api.types.is_bool_dtype(column):  # pandas reads a column of True/False as bools
        raise Invalid(f"submission.csv: every {what} must be a whole number, not True/False")
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() | ~np.isfinite(values) | (values % 1 != 0)
    if bad.any():
        raise Invalid(
            f"submission.csv: every {what} must be a whole number; {int(bad.sum())} are not "
            f"(e.g. row {int(np.flatnonzero(bad.to_numpy())[0]) + 1} after the header: "
            f"{str(column[bad].iloc[0])[:40]!r})"
        )
    return values.to_numpy(np.float64)


def main(args):
    n = np.load(args.public / "test_images.npy", mmap_mode="r").shape[0]
    truth = pd.read_csv(args.private / f"{args.split}.csv")
    sub = rgym_grade.read_csv(args.artifact, ["id", "label"])
    ids = whole_numbers(sub["id"], "id")
    labels = whole_numbers(sub["label"], "label")
    outside = (ids < 0) | (ids >= n)
    if outside.any():
        raise Invalid(
            f"submission.csv has id {ids[outside][0]:.0f}, which is no image of "
            f"data/test_images.npy: ids are its rows, 0 to {n - 1}"
        )
    ids = ids.astype(np.int64)
    seen = np.bincount(ids, minlength=n)
    if (seen > 1).any():
        raise Invalid(f"submission.csv lists id {int(np.argmax(seen > 1))} more than once")
    if (seen == 0).any():
        raise Invalid(
            f"submission.csv has no row for {int((seen == 0).sum())} of the {n} images of "
            f"data/test_images.npy (e.g. id {int(np.argmax(seen == 0))}); predict every image"
        )
    wrong = (labels < 0) | (labels >= N_CLASSES)
    if wrong.any():
        raise Invalid(
            f"every label must be a class number from 0 to {N_CLASSES - 1}; {int(wrong.sum())} "
            f"are not (e.g. id {ids[wrong][0]}: {labels[wrong][0]:.0f})"
        )
    pred = np.empty(n, np.int64)
    pred[ids] = labels.astype(np.int64)
    correct = pred[truth["id"].to_numpy()] == truth["label"].to_numpy()
    return {"accuracy": float(correct.mean()), "n": len(truth)}


if __name__ == "__main__":
    rgym_grade.run(main)
