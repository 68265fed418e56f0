"""Fashion-MNIST (Zalando, MIT): 60,000 training and 10,000 test images, 28x28 grey, 10 classes.

The data comes from the Debian package `dataset-fashion-mnist` (the original idx files, gzipped,
under /usr/share/datasets/fashion-mnist); its content is checked against known checksums. The
agent gets the training images with their labels and the test images without, as uint8 .npy
arrays (mounted read-only, loaded in a blink). The test images are shuffled into an order of
this installation's own, and an image's `id` is its row in test_images.npy; which half of them
is dev (scored by `validate`) and which half test (the final score) is drawn from `secret_seed`,
so it cannot be recomputed from this code, and the agent's file mixes both halves. Labels of
both stay private. The Debian package itself holds the test labels: task.yaml lists its folder
in `data.private_paths`, so no sandbox that runs the agent's code can see it.

`train_size`/`test_size` take a subset (the `tiny` variant for tests); None keeps everything.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from rgym.errors import DataUnavailable

SOURCE = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    # name: (file, sha256 of the decompressed idx file)
    "train_images": (
        "train-images-idx3-ubyte.gz",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "train_labels": (
        "train-labels-idx1-ubyte.gz",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "test_images": (
        "t10k-images-idx3-ubyte.gz",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "test_labels": (
        "t10k-labels-idx1-ubyte.gz",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}
CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
INSTALL = (
    "Fashion-MNIST comes from the Debian/Ubuntu package dataset-fashion-mnist: "
    "run `sudo apt-get install dataset-fashion-mnist`"
)


def read_idx(path: Path, sha256: str) -> np.ndarray:
    """An idx file (big-endian dims, then uint8 data) as a uint8 array, checksum verified."""
    if not path.is_file():
        raise DataUnavailable(f"{path} does not exist. {INSTALL}.")
    raw = gzip.decompress(path.read_bytes())
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise DataUnavailable(
            f"{path} is not the Fashion-MNIST file this task expects (checksum mismatch); "
            f"reinstall it: `sudo apt-get install --reinstall dataset-fashion-mnist`."
        )
    if raw[:2] != b"\0\0" or raw[2] != 0x08:  # magic: two zero bytes, then 0x08 = uint8
        raise DataUnavailable(f"{path} is not an idx file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def prepare(
    public: Path,
    private: Path,
    *,
    seed: int,
    variant: str,
    secret_seed,
    train_size: int | None = None,
    test_size: int | None = None,
    dev_frac: float = 0.5,
) -> None:
    import pandas as pd

    arrays = {name: read_idx(SOURCE / f, sha) for name, (f, sha) in FILES.items()}
    train_x, train_y = arrays["train_images"], arrays["train_labels"]
    test_x, test_y = arrays["test_images"], arrays["test_labels"]
    if train_size is not None:  # the training subset is public knowledge: the task seed
        keep = np.sort(np.random.default_rng(seed).permutation(len(train_x))[:train_size])
        train_x, train_y = train_x[keep], train_y[keep]
    # The test images, their order and the dev/test halves decide the scores: a secret.
    rng = np.random.default_rng(secret_seed("test order and dev/test rows", seed + 1))
    order = rng.permutation(len(test_x))[:test_size]
    test_x, test_y = test_x[order], test_y[order]
    n_dev = int(round(len(order) * dev_frac))
    is_dev = np.zeros(len(order), bool)
    is_dev[rng.permutation(len(order))[:n_dev]] = True

    np.save(public / "train_images.npy", np.ascontiguousarray(train_x))
    np.save(public / "train_labels.npy", np.ascontiguousarray(train_y))
    np.save(public / "test_images.npy", np.ascontiguousarray(test_x))
    ids = np.arange(len(order))
    for split, rows in (("dev", is_dev), ("test", ~is_dev)):
        pd.DataFrame({"id": ids[rows], "label": test_y[rows]}).to_csv(
            private / f"{split}.csv", index=False
        )
    classes = "\n".join(f"  {i}  {name}" for i, name in enumerate(CLASSES))
    (public / "README.txt").write_text(
        "Fashion-MNIST (Zalando Research, MIT licence): 28x28 greyscale photos of clothing.\n\n"
        f"train_images.npy  uint8 {train_x.shape}  pixel values 0-255 (0 = background)\n"
        f"train_labels.npy  uint8 {train_y.shape}  the class of each training image, 0-9\n"
        f"test_images.npy   uint8 {test_x.shape}  no labels; an image's id is its row "
        f"(0-{len(test_x) - 1})\n\n"
        "Classes:\n"
        f"{classes}\n\n"
        f"Training images per class: {np.bincount(train_y, minlength=10).min()}-"
        f"{np.bincount(train_y, minlength=10).max()}. Load the arrays with numpy.load().\n"
        "validate scores a hidden half of the test images, the final score the other half.\n"
    )
