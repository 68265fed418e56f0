"""Learning curves of the cifar10 task's baseline and reference on its generated images.

Shows how far the generated data set (rgym/tasks/catalog/cifar10/prepare.py) leaves its
baseline from the ceiling, and how much a better network gains:

- accuracy vs epochs: the baseline (one run, scored after each epoch; its learning rate is
  constant) and the reference (one run per epoch budget: its one-cycle schedule depends on it);
- accuracy vs training-set size: both at their own epoch counts on 5k ... 50k images;
- a ceiling: the reference's recipe, wider and trained much longer.

The task's own code is used as it is (starter/baseline.py, reference/reference.py, the
recipe's renderer), imported from the task folder; rgym itself is not needed, so this runs on a
bare machine with torch. Images are drawn with the task's public seed for training and another
seed for the 10,000 test images. `--preset` draws harder or easier variants of the images
(used to choose the task's difficulty).

Run: python benchmarks/cifar_learning_curve.py [--quick] [--out DIR]
  writes DIR/cifar_learning_curve.json (and .png when matplotlib is installed)
"""

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

TASK = Path(__file__).resolve().parents[1] / "src" / "rgym" / "tasks" / "catalog" / "cifar10"
PRESETS = {
    "task": {},
    "easy": {"shift": 3.0, "strokes": 2, "dots": 2, "occlusion": 0.1, "noise": 0.04},
    "hard": {"shift": 16.0, "scale": (6.5, 13.0), "occlusion": 0.4, "texture": 0.7},
}


def load(name: str, rel: str):
    spec = importlib.util.spec_from_file_location(name, TASK / rel)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def make_data(preset: str, n_train: int, n_test: int, seed: int):
    """(train images, train labels, test images, test labels, seconds) drawn on one core."""
    recipe = load("cifar10_prepare", "prepare.py")
    style = recipe.Style(**PRESETS[preset])
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    y_train = recipe.balanced_labels(n_train, rng)
    x_train = recipe.render(y_train, rng, style)
    rng = np.random.default_rng(seed + 1)
    y_test = recipe.balanced_labels(n_test, rng)
    x_test = recipe.render(y_test, rng, style)
    return x_train, y_train, x_test, y_test, time.perf_counter() - start


def log(*a) -> None:
    print(*a, flush=True)


class Curves:
    """The measurements on one data set (tensors on the device)."""

    def __init__(self, base, ref, x_tr, y_tr, x_te, y_te, device):
        import torch

        self.base, self.ref, self.device = base, ref, device
        self.x_train = base.to_tensor(x_tr).to(device)
        self.y_train = torch.from_numpy(y_tr.astype(np.int64)).to(device)
        self.x_test, self.y_test = base.to_tensor(x_te).to(device), y_te

    def accuracy(self, module, model) -> float:
        return float((module.predict(model, self.x_test, self.device) == self.y_test).mean())

    def curve(self, module, store: list):
        """An on_epoch callback that scores the model after each epoch."""
        return lambda epoch, model: store.append((epoch, self.accuracy(module, model)))

    def run(self, module, n: int | None = None, **kw) -> tuple[float, float]:
        """(test accuracy, seconds) of module.train on the first n training images."""
        t = time.perf_counter()
        idx = slice(None) if n is None else slice(0, n)
        model = module.train(self.x_train[idx], self.y_train[idx], device=self.device, **kw)
        return self.accuracy(module, model), round(time.perf_counter() - t, 1)

    def measure(self, args) -> dict:
        base, ref = self.base, self.ref
        res: dict = {}
        # the baseline: one run, scored after every epoch
        points: list = []
        t = time.perf_counter()
        base.train(
            self.x_train, self.y_train, args.baseline_epochs, self.device, self.curve(base, points)
        )
        res["baseline_vs_epochs"] = points
        log(f"baseline vs epochs ({time.perf_counter() - t:.0f}s): {points}")
        # the reference: one run per epoch budget (its schedule depends on it)
        res["reference_vs_epochs"] = []
        for e in [int(v) for v in args.reference_epochs.split(",") if v]:
            acc, sec = self.run(ref, epochs=e)
            res["reference_vs_epochs"].append((e, acc, sec))
            log(f"reference {e} epochs: {acc:.4f} ({sec}s)")
        for w in [int(v) for v in args.reference_widths.split(",") if v]:
            old, ref.WIDTH = ref.WIDTH, w
            acc, sec = self.run(ref, epochs=ref.EPOCHS)
            ref.WIDTH = old
            res.setdefault("reference_widths", []).append((w, acc, sec))
            log(f"reference width {w}: {acc:.4f} ({sec}s)")
        # both at their own epoch counts on less data
        for key, module in (("baseline_vs_size", base), ("reference_vs_size", ref)):
            res[key] = []
            for n in [int(v) for v in args.sizes.split(",") if v]:
                if n <= len(self.x_train):
                    acc, sec = self.run(module, n=n, epochs=module.EPOCHS)
                    res[key].append((n, acc, sec))
                    log(f"{key} {n}: {acc:.4f} ({sec}s)")
        # a ceiling estimate: the reference's recipe, wider, trained much longer
        if args.ceiling_epochs:
            old, ref.WIDTH = ref.WIDTH, args.ceiling_width
            points = []
            acc, sec = self.run(ref, epochs=args.ceiling_epochs, on_epoch=self.curve(ref, points))
            ref.WIDTH = old
            res["ceiling"] = {
                "width": args.ceiling_width,
                "epochs": args.ceiling_epochs,
                "accuracy": acc,
                "seconds": sec,
                "curve": points,
            }
            log(f"ceiling (width {args.ceiling_width}, {args.ceiling_epochs} epochs): {acc:.4f}")
        return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="task", help=f"comma-separated: {', '.join(PRESETS)}")
    p.add_argument("--baseline-epochs", type=int, default=10)
    p.add_argument("--reference-epochs", default="1,2,3,5,8")
    p.add_argument("--sizes", default="5000,10000,25000,50000")
    p.add_argument("--ceiling-epochs", type=int, default=30)
    p.add_argument("--ceiling-width", type=int, default=64)
    p.add_argument("--reference-widths", default="", help="extra reference widths to compare")
    p.add_argument("--n-train", type=int, default=50_000)
    p.add_argument("--n-test", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: all)")
    p.add_argument("--quick", action="store_true", help="small sizes: check that it runs")
    p.add_argument("--out", type=Path, default=Path("."))
    args = p.parse_args()
    if args.quick:
        args.n_train, args.n_test, args.baseline_epochs = 2000, 1000, 2
        args.reference_epochs, args.sizes, args.ceiling_epochs = "1,2", "500,2000", 2

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
    base = load("cifar10_baseline", "starter/baseline.py")
    ref = load("cifar10_reference", "reference/reference.py")
    presets = args.preset.split(",")
    out: dict = {
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor(),
        "torch_threads": torch.get_num_threads(),
        "n_train": args.n_train,
        "n_test": args.n_test,
        "baseline": {"epochs": base.EPOCHS, "batch": base.BATCH, "lr": base.LR},
        "reference": {"epochs": ref.EPOCHS, "batch": ref.BATCH, "lr": ref.LR, "width": ref.WIDTH},
        "presets": {},
    }
    with ProcessPoolExecutor(min(len(presets), os.cpu_count() or 1)) as pool:
        futures = {
            name: pool.submit(make_data, name, args.n_train, args.n_test, args.seed)
            for name in presets
        }
        data = {name: f.result() for name, f in futures.items()}

    for name in presets:
        x_tr, y_tr, x_te, y_te, gen_s = data[name]
        log(f"== preset {name}: generated {len(x_tr) + len(x_te)} images in {gen_s:.1f}s")
        res = Curves(base, ref, x_tr, y_tr, x_te, y_te, device).measure(args)
        res = {"style": PRESETS[name], "generate_seconds": round(gen_s, 2), **res}
        out["presets"][name] = res
        args.out.mkdir(parents=True, exist_ok=True)  # after each preset: partial results survive
        (args.out / "cifar_learning_curve.json").write_text(json.dumps(out, indent=1))
    plot(out, args.out / "cifar_learning_curve.png")


def plot(out: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for name, res in out["presets"].items():
        e, acc = zip(*res["baseline_vs_epochs"], strict=True)
        a.plot(e, acc, "o-", label=f"baseline ({name})")
        e, acc, _ = zip(*res["reference_vs_epochs"], strict=True)
        a.plot(e, acc, "s-", label=f"reference ({name})")
        if "ceiling" in res:
            a.axhline(res["ceiling"]["accuracy"], ls="--", lw=1, label=f"ceiling ({name})")
        for key, marker in (("baseline_vs_size", "o-"), ("reference_vs_size", "s-")):
            if res.get(key):
                n, acc, _ = zip(*res[key], strict=True)
                b.plot(n, acc, marker, label=f"{key.split('_')[0]} ({name})")
    a.set(xlabel="epochs", ylabel="test accuracy", title="accuracy vs epochs")
    b.set(xlabel="training images", ylabel="test accuracy", xscale="log", title="vs data")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
