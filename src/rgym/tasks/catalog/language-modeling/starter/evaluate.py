"""Score model/ as the grader does, on text you have: the held-out end of the training data.

    python evaluate.py               # the last 2 works of train.txt (train.py holds them out)
    python evaluate.py --holdout-works 4 --windows 0   # more text; 0 windows: all of it

lm_eval.py is the grader's own evaluation code: the same windows protocol (data/eval.json), the
same checks of every reply (shape, dtype, finite, normalised), the same causality check and time
limit. The model is imported here, in this process, from model/ (the grader imports it in a
sandbox of its own, with model/ as the working directory). If you train on the held-out works,
these numbers flatter your model.
"""

import argparse
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path

import lm_eval
import numpy as np

DATA = Path("data").resolve()


def held_out(works: int) -> np.ndarray:
    shards = sorted((DATA / "fineweb10B").glob("fineweb_train_*.bin"))
    if shards:  # train.py holds out the last 2**20 tokens of the last shard
        last = np.memmap(shards[-1], dtype=np.uint16, mode="r", offset=1024)
        return np.asarray(last[-min(1 << 20, len(last) // 2) :])
    text = np.fromfile(DATA / "train.txt", dtype=np.uint8)
    listing = json.loads((DATA / "works.json").read_text())
    return text[listing[-works]["offset"] :]


def main() -> None:
    settings = lm_eval.Settings.from_dict(json.loads((DATA / "eval.json").read_text()))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--holdout-works", type=int, default=2)
    p.add_argument("--windows", type=int, default=settings.windows)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    settings.windows = args.windows
    stream = held_out(args.holdout_works)

    model_dir = Path("model").resolve()
    os.chdir(model_dir)  # as in the grader's sandbox
    sys.path.insert(0, str(model_dir))
    t0 = time.monotonic()
    spec = importlib.util.spec_from_file_location("model", model_dir / "model.py")
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    print(f"imported model/model.py in {time.monotonic() - t0:.1f} s")

    def call(rows: np.ndarray, timeout: float):
        t = time.monotonic()
        out = model.logprobs(rows.copy())
        if hasattr(out, "detach"):  # the grader's server converts torch tensors the same way
            out = out.detach().cpu().numpy()
        if time.monotonic() - t > timeout:
            raise lm_eval.BadModel(f"a call took more than the {timeout:.0f} s left")
        return out

    try:
        m = lm_eval.evaluate(call, stream, settings, seed=args.seed)
    except lm_eval.BadModel as e:
        print(f"INVALID: {e}")
        sys.exit(1)
    unit = "bits per byte" if settings.unit == "byte" else "nats per token"
    print(
        f"val_loss {m['val_loss']:.4f} {unit} on {int(m['tokens']):,} held-out {settings.unit}s "
        f"({int(m['windows'])} windows of {settings.context}); causality checks passed "
        f"({int(m['causal_checks'])}, largest change {m['worst_causal_tv']:.2g}); model time "
        f"{m['model_seconds']:.1f} s of {settings.time_limit:g} s allowed (the grader's "
        "machine may differ)"
    )
    if settings.unit == "byte":
        print(f"perplexity per byte {math.exp(m['nats_per_byte']):.3f}")


if __name__ == "__main__":
    main()
