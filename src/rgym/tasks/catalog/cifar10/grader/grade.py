"""cifar10 grader: accuracy of submission.csv (`id,label`) on the dev or test images.

An image's id is its row in data/test_images.npy. The submission must give exactly one class
number (0-9, named in data/README.txt) for every test image; `rgym_grade.class_by_id` checks
every row, dev and test mixed, before the split's images are scored, so no message tells which
images are dev.
"""

import pandas as pd
import rgym_grade


def main(args):
    dev, test = (pd.read_csv(args.private / f"{s}.csv") for s in ("dev", "test"))
    n = len(dev) + len(test)  # the ids of dev and test together are 0 .. n-1
    truth = dev if args.split == "dev" else test
    pred = rgym_grade.class_by_id(args.artifact, n, 10, "images of data/test_images.npy")
    correct = pred[truth["id"].to_numpy()] == truth["label"].to_numpy()
    return {"accuracy": float(correct.mean()), "n": len(truth)}


if __name__ == "__main__":
    rgym_grade.run(main)
