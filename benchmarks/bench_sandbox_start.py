"""What starting one jailed process costs: `start_jailed` (cgroup set-up, the /bin/sh
trampoline that joins it, exec, teardown), for `/bin/true`, median over N starts.

Run: .venv/bin/python benchmarks/bench_sandbox_start.py [--n 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

from rgym.sandbox.base import SandboxLimits
from rgym.sandbox.limits import start_jailed


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200)
    args = p.parse_args()
    limits = SandboxLimits(memory_mb=512, pids=64, cpus=1.0)
    times = []
    for _ in range(args.n):
        t = time.perf_counter()
        proc = start_jailed(["/bin/true"], limits, "a benchmark process")
        proc.popen.wait()
        proc.kill()
        times.append(time.perf_counter() - t)
    mechanism = proc.limits_in_force["mechanism"]
    ms = sorted(x * 1000 for x in times)
    print(
        f"start_jailed(/bin/true) with {mechanism}: median {statistics.median(ms):.2f} ms, "
        f"p90 {ms[int(0.9 * len(ms))]:.2f} ms over {args.n}"
    )


if __name__ == "__main__":
    main()
