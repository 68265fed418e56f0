"""Time `build_report` + `write_report` (md, with plots) over 700 synthetic MLGym-format runs.

Target: under 5 s for the two together. Run from the repository root:

    .venv/bin/python benchmarks/bench_report.py [--runs 700] [--repeats 5] [--steps 15]

The runs are generated fresh in a temporary directory (13 MLGym tasks, 6 models, seeds), with
MLGym's folder names, results.json and a <task>.traj of ``--steps`` steps each, so reading cost
is included. Prints the median and range of each phase over ``--repeats`` repetitions.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rgym.metrics import build_report, write_report
from rgym.metrics.mlgym import PRIORITY_METRICS

MODELS = ["gpt4o", "claude35", "llama3-405b", "gemini15pro", "o1-preview", "gpt4o-mini"]
SUFFIX = "__better_thought_action_parser_with_insert__t-0.00__p-0.95__c-4.00__install-0"


def generate(root: Path, n_runs: int, n_steps: int, seed: int = 0) -> None:
    """Write ``n_runs`` MLGym run folders, cycling models x tasks x run index."""
    rng = random.Random(seed)
    tasks = list(PRIORITY_METRICS.items())
    baseline = {t: rng.uniform(0.5, 2.0) for t, _ in tasks}
    made = 0
    run = 0
    while made < n_runs:
        for model_i, model in enumerate(MODELS):
            for task, (metric, direction) in tasks:
                if made == n_runs:
                    return
                skill = 1 + 0.05 * model_i
                base = baseline[task]
                attempts = []
                for _ in range(rng.randint(0, 4)):
                    gain = rng.gauss(0.1 * skill, 0.15)
                    value = base * (1 + gain) if direction == "max" else base * (1 - gain)
                    entry = {metric: value} if rng.random() > 0.05 else {"other": 1.0}
                    attempts.append(entry)
                d = root / f"metagen-{model}__{task}{SUFFIX}_run_{run}"
                d.mkdir(parents=True)
                results = {"agent": attempts, "baseline": {metric: base}}
                (d / "results.json").write_text(json.dumps(results))
                steps = [
                    {
                        "action": f"python train.py --lr {rng.random():.4f}",
                        "observation": "epoch 1 loss 0.5\n" * 10,
                        "thought": "Try a smaller learning rate and validate again. " * 3,
                        "execution_time": rng.uniform(0.5, 60),
                    }
                    for _ in range(n_steps)
                ]
                stats = {
                    "total_cost": rng.uniform(0.1, 4.0),
                    "tokens_sent": rng.randint(10_000, 500_000),
                    "tokens_received": rng.randint(1_000, 20_000),
                    "api_calls": n_steps,
                }
                traj = {
                    "trajectory": steps,
                    "history": [],
                    "info": {"model_stats": stats, "exit_status": "submitted", "score": attempts},
                }
                (d / f"{task}.traj").write_text(json.dumps(traj))
                made += 1
        run += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=700)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=15, help="trajectory steps per run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rgym-bench-") as tmp:
        runs_dir, out_dir = Path(tmp) / "runs", Path(tmp) / "out"
        generate(runs_dir, args.runs, args.steps)
        build_times, write_times, totals = [], [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            report = build_report([runs_dir])
            t1 = time.perf_counter()
            files = write_report(report, out_dir, "md")
            t2 = time.perf_counter()
            build_times.append(t1 - t0)
            write_times.append(t2 - t1)
            totals.append(t2 - t0)

    def fmt(xs: list[float]) -> str:
        return f"median {statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f})"

    print(
        f"rgym report benchmark: {len(report.runs)} runs, {len(report.tasks)} tasks, "
        f"{report.best_attempt.shape[1]} methods incl. baseline, {len(files)} files written"
    )
    print(f"  build_report          {fmt(build_times)}")
    print(f"  write_report md+plots {fmt(write_times)}")
    print(f"  total                 {fmt(totals)}   [target < 5 s]")
    print(f"  repeats={args.repeats}, python {sys.version.split()[0]}")
    print(
        f"  reproduce: .venv/bin/python benchmarks/bench_report.py --runs {args.runs} "
        f"--repeats {args.repeats} --steps {args.steps}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
