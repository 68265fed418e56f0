"""Env performance, measured side by side in one process.

- reset() of titanic (workspace + sandbox start), median over N resets;
- per-step overhead: env.step(cmd) versus subprocess.run(["bash", "-c", cmd]) for the same cmd;
- many environments alive at once (reset all, step each, close all).

Run: .venv/bin/python benchmarks/bench_env.py [--n 50] [--alive 16] [--task T] [--public-seeds]
  (--public-seeds reuses the baseline that `rgym verify T --public-seeds` measured, so that a
  training task's first reset does not train it again: `--task fashion-mnist --public-seeds`
  times reset() with 60,000 images)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import rgym


def median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--alive", type=int, default=16)
    p.add_argument("--task", default="titanic")
    p.add_argument("--public-seeds", action="store_true")
    args = p.parse_args()
    seeds = {"seed_mode": "public"} if args.public_seeds else {}

    env = rgym.make(args.task, **seeds)
    env.reset()  # warm: data prepared and cached, imports done
    resets = []
    for _ in range(args.n):
        t = time.perf_counter()
        env.reset()
        resets.append(time.perf_counter() - t)

    cmd = "echo hello"
    env_steps, plain = [], []
    for _ in range(args.n):
        t = time.perf_counter()
        env.step(cmd)
        env_steps.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run(["bash", "-c", cmd], capture_output=True)
        plain.append(time.perf_counter() - t)
    env.close()

    t = time.perf_counter()
    envs = [rgym.make(args.task, **seeds) for _ in range(args.alive)]
    for e in envs:
        e.reset()
    up = time.perf_counter() - t
    t = time.perf_counter()
    outs = [e.step("python -c 'print(1+1)'")[0].strip() for e in envs]
    stepped = time.perf_counter() - t
    for e in envs:
        e.close()
    ok = all(o == "2" for o in outs)

    print(
        f"reset() of {args.task}: median {median_ms(resets):.1f} ms over {args.n} "
        f"(p90 {sorted(resets)[int(0.9 * len(resets))] * 1000:.1f} ms)"
    )
    print(
        f"step('{cmd}'): median {median_ms(env_steps):.2f} ms; subprocess.run bash -c: "
        f"median {median_ms(plain):.2f} ms; overhead {median_ms(env_steps) - median_ms(plain):.2f}"
        f" ms over {args.n}"
    )
    print(
        f"{args.alive} environments alive at once: all reset in {up:.2f} s, one python step "
        f"each in {stepped:.2f} s, all answered correctly: {ok}"
    )


if __name__ == "__main__":
    main()
