"""Fashion-MNIST grader: accuracy of submission.csv on the dev or test images, joined on id.

The submission must hold exactly one class number (0-9) for every image of
data/test_images.npy (its id is its row); `rgym_grade.class_by_id` checks every row, dev and
test mixed, before the split's rows are scored, so no message depends on which images are dev.
"""

import numpy as np
import pandas as pd
import rgym_grade


def main(args):
    n = np.load(args.public / "test_images.npy", mmap_mode="r").shape[0]
    truth = pd.read_csv(args.private / f"{args.split}.csv")
    pred = rgym_grade.class_by_id(args.artifact, n, 10, "images of data/test_images.npy")
    correct = pred[truth["id"].to_numpy()] == truth["label"].to_numpy()
    return {"accuracy": float(correct.mean()), "n": len(truth)}


if __name__ == "__main__":
    rgym_grade.run(main)
