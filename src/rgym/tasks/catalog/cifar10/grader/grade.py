"""cifar10 grader: accuracy of submission.csv (`id,label`) on the dev or test images.

An image's id is its row in data/test_images.npy. The submission must give exactly one class
number (0-9) for every test image; all of these checks run over every image, dev and test
mixed, before the split's images are scored, so no message tells which images are dev.
"""

import numpy as np
import pandas as pd
import rgym_grade
from rgym_grade import Invalid

CLASSES = 10


def integers(column: pd.Series, what: str) -> np.ndarray:
    """A column as whole numbers (kept as floats, so that 1e30 fails the range checks rather
    than wrapping round), or Invalid naming the first value that is not one."""
    values = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values) | (np.mod(values, 1) != 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise Invalid(
            f"submission.csv: every {what} must be a whole number; {int(bad.sum())} are not "
            f"(e.g. data row {row + 1}: {str(column.iloc[row])[:40]!r})"
        )
    return values


def main(args):
    dev, test = (pd.read_csv(args.private / f"{s}.csv") for s in ("dev", "test"))
    n = len(dev) + len(test)  # the ids of dev and test together are 0 .. n-1
    truth = dev if args.split == "dev" else test
    sub = rgym_grade.read_csv(args.artifact, ["id", "label"])
    ids, labels = integers(sub["id"], "id"), integers(sub["label"], "label")
    outside = (ids < 0) | (ids >= n)
    if outside.any():
        raise Invalid(
            f"submission.csv has id {ids[outside][0]:.0f}, which is no test image: the id of "
            f"an image is its row in data/test_images.npy, 0 to {n - 1}"
        )
    ids = ids.astype(np.int64)
    count = np.bincount(ids, minlength=n)
    if (count > 1).any():
        raise Invalid(f"submission.csv lists id {int(np.argmax(count > 1))} more than once")
    if (count == 0).any():
        raise Invalid(
            f"submission.csv has no row for {int((count == 0).sum())} of the {n} test images "
            f"(e.g. id {int(np.argmax(count == 0))}); predict every image"
        )
    wrong = (labels < 0) | (labels >= CLASSES)
    if wrong.any():
        raise Invalid(
            f"every label must be a class number from 0 to {CLASSES - 1} (data/README.txt "
            f"names them); {int(wrong.sum())} are not (e.g. id {ids[wrong][0]}: "
            f"{labels[wrong][0]:.0f})"
        )
    pred = np.empty(n, np.int64)
    pred[ids] = labels
    correct = pred[truth["id"].to_numpy()] == truth["label"].to_numpy()
    return {"accuracy": float(correct.mean()), "n": len(truth)}


if __name__ == "__main__":
    rgym_grade.run(main)
