"""`rgym serve` against in-process `env.step`: steps per second and step latency with 1 and 16
concurrent clients, and memory per live episode.

Every step is a cheap command (`echo hi`), so the numbers are the serving overhead, not the
work. The server runs as its own process (`rgym serve`), pinned to the same cores as this one
(2 by default); clients are threads here, one episode each:

- in-process: one `rgym.make(task)` per client, `env.step` called directly;
- websocket: `rgym.serve.client.RemoteEnv` (OpenEnv's WebSocket protocol);
- http: `POST /episodes/<id>/step` with an httpx.Client per client.

Memory per live episode: the resident memory (RSS, and PSS, which shares pages fairly) of the
server and every process under it, with N episodes reset and live, minus the same with none,
over N.

Run: .venv/bin/python benchmarks/bench_serve.py [--steps 200] [--clients 1 16] [--cores 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

import rgym
from rgym.budget import Budget
from rgym.serve.client import RemoteEnv

ACTION = "echo hi"
Stepper = Callable[[], None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, max_episodes: int, cores: set[int]) -> subprocess.Popen:
    argv = [sys.executable, "-m", "rgym.cli", "serve"]
    argv += ["--port", str(port), "--max-episodes", str(max_episodes)]
    server = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.sched_setaffinity(0, cores),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("rgym serve did not come up within 120 s")


# --- the three ways to step ---------------------------------------------------------------


def in_process(task: str, steps: int) -> tuple[Stepper, Callable[[], None]]:
    env = rgym.make(task, budget=Budget(max_steps=steps + 10))
    env.reset()
    return lambda: env.step(ACTION), env.close


def over_websocket(url: str, task: str, steps: int) -> tuple[Stepper, Callable[[], None]]:
    env = RemoteEnv(url, task, max_steps=steps + 10)
    env.reset()
    return lambda: env.step(ACTION), env.close


def over_http(url: str, task: str, steps: int) -> tuple[Stepper, Callable[[], None]]:
    http = httpx.Client(base_url=url, timeout=120)
    opened = http.post("/episodes", json={"task": task, "max_steps": steps + 10})
    opened.raise_for_status()
    episode = opened.json()["observation"]["episode_id"]

    def step() -> None:
        http.post(f"/episodes/{episode}/step", json={"command": ACTION}).raise_for_status()

    def close() -> None:
        http.delete(f"/episodes/{episode}")
        http.close()

    return step, close


def measure(make: Callable[[], tuple[Stepper, Callable[[], None]]], clients: int, steps: int):
    """(steps per second over all clients, every step's latency in seconds)."""
    made = [make() for _ in range(clients)]
    for step, _ in made:  # warm: connections open, first command run
        step()
    latencies: list[list[float]] = [[] for _ in made]
    barrier = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        step = made[i][0]
        barrier.wait()
        for _ in range(steps):
            t = time.perf_counter()
            step()
            latencies[i].append(time.perf_counter() - t)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    for _, close in made:
        close()
    flat = [x for xs in latencies for x in xs]
    return len(flat) / wall, flat


def percentile(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


# --- memory ---------------------------------------------------------------------------------


def tree(pid: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found, frontier = {pid}, {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def memory_kib(pid: int) -> tuple[int, int, int]:
    """(RSS, PSS, processes) summed over `pid` and everything under it."""
    rss = pss = n = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
            n += 1
        except OSError:
            continue
    return rss, pss, n


def memory_per_episode(server: subprocess.Popen, url: str, task: str, n: int) -> dict[str, float]:
    time.sleep(1)
    rss0, pss0, procs0 = memory_kib(server.pid)
    envs = [RemoteEnv(url, task) for _ in range(n)]
    for env in envs:
        env.reset()
        env.step(ACTION)
    time.sleep(1)
    rss1, pss1, procs1 = memory_kib(server.pid)
    for env in envs:
        env.close()
    return {
        "episodes": n,
        "rss_mib": (rss1 - rss0) / n / 1024,
        "pss_mib": (pss1 - pss0) / n / 1024,
        "processes": (procs1 - procs0) / n,
        "server_idle_rss_mib": rss0 / 1024,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="battle-of-sexes")
    p.add_argument("--steps", type=int, default=200, help="steps per client (1 client)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    p.add_argument("--cores", type=int, default=2, help="cores for the server and clients")
    args = p.parse_args()

    available = sorted(os.sched_getaffinity(0))
    cores = set(available[: args.cores])
    os.sched_setaffinity(0, cores)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    most = max(args.clients)
    rgym.make(args.task).close()
    warm = rgym.make(args.task)
    warm.reset()  # data prepared and baseline measured here, before any clock runs
    warm.close()
    server = start_server(port, most + 1, cores)
    try:
        first = RemoteEnv(url, args.task)  # the server's first reset, off the clock
        first.reset()
        first.close()
        rows = []
        for clients in args.clients:
            steps = max(20, args.steps // clients) if clients > 1 else args.steps
            for name, make in (
                ("in-process", lambda s=steps: in_process(args.task, s)),
                ("websocket", lambda s=steps: over_websocket(url, args.task, s)),
                ("http", lambda s=steps: over_http(url, args.task, s)),
            ):
                rate, lat = measure(make, clients, steps)
                rows.append(
                    (name, clients, len(lat), rate, percentile(lat, 50), percentile(lat, 99))
                )
        mem = memory_per_episode(server, url, args.task, most)
    finally:
        server.terminate()
        server.wait(30)

    python = sys.version.split()[0]
    print(
        f"rgym serve vs in-process env.step: task {args.task}, action {ACTION!r}, "
        f"{len(cores)} cores ({os.cpu_count()} on the machine), python {python}, load average "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"{'transport':<11} {'clients':>7} {'steps':>6} {'steps/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for name, clients, n, rate, p50, p99 in rows:
        print(f"{name:<11} {clients:>7} {n:>6} {rate:>8.1f} {p50 * 1000:>7.1f} {p99 * 1000:>7.1f}")
    print(
        f"memory per live episode ({mem['episodes']} live, server + sandbox processes): "
        f"{mem['rss_mib']:.1f} MiB RSS, {mem['pss_mib']:.1f} MiB PSS, "
        f"{mem['processes']:.0f} processes; idle server {mem['server_idle_rss_mib']:.0f} MiB RSS"
    )


if __name__ == "__main__":
    main()
