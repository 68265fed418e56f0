"""Time `rgym view`: the runs page of 1,000 runs, a 200-step run page, and live updates.

Targets (issue 14): runs page of 1,000 runs, server time under 1 s and first paint under 2 s
in headless Chromium; a 200-step run page, server time under 300 ms; and the latency of a live
update from the write to events.jsonl to the event on screen (the design asks for under 2 s).
Run from the repository root:

    .venv/bin/python benchmarks/bench_view.py [--runs 1000] [--steps 200] [--repeats 7]

The runs are written fresh in a temporary folder in the real record format (`RunRecord`):
1,000 finished rgym runs (6 tasks x 5 models x seeds, 8 steps each, with model calls) plus
one 200-step run with model calls, discussions and outputs of 5 to 400 lines. Server times
are HTTP round trips on 127.0.0.1 to a real uvicorn server ("cold" is the first request after
start, which walks the folders and reads every run; "warm" is the median of the repeats, which
re-walk the folders and reuse the summaries). Browser numbers come from Debian's
/usr/bin/chromium (skipped, with a note, when it is missing): first-contentful-paint of the
runs page, and for live updates the time from the write to a MutationObserver seeing the event.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.viewer.browser

from rgym.runs.record import RunRecord  # noqa: E402
from rgym.viewer.server import start_in_thread  # noqa: E402
from rgym.viewer.site import Site  # noqa: E402
from tests.viewer.browser import ARGS as CHROMIUM_ARGS  # noqa: E402  (one launch recipe)
from tests.viewer.browser import CHROMIUM  # noqa: E402

TASKS = [
    "titanic",
    "house-price",
    "battle-of-sexes",
    "blotto",
    "prisoners-dilemma",
    "sat-heuristic",
]
MODELS = [
    "openai/gpt-4o",
    "anthropic/claude-sonnet-4-5",
    "gemini-2.5-pro",
    "llama-3.1-405b",
    "o3-mini",
]


def write_run(
    root: Path,
    name: str,
    rng: random.Random,
    steps: int,
    task: str,
    model: str,
    seed: int,
    finished: bool = True,
) -> RunRecord:
    record = RunRecord(root / name)
    record.write_manifest(
        {
            "task": task,
            "variant": "default",
            "agent": "default",
            "model": model,
            "seed": seed,
            "sandbox": "bwrap",
            "budget": {"max_steps": steps + 5},
            "started": "2026-01-01T00:00:00+00:00",
        }
    )
    record.event("reset", seed=seed, seconds=0.2, sandbox="bwrap", isolated=True)
    dev = []
    for step in range(1, steps + 1):
        record.event(
            "model_call",
            step=step,
            attempt=1,
            purpose="action",
            model=model,
            outcome="ok",
            prompt_tokens=2000 + 300 * step,
            completion_tokens=120,
            cost_usd=0.004,
            latency_s=round(rng.uniform(0.5, 6), 3),
            content="DISCUSSION\n" + "Reasoning about the next change. " * 8,
        )
        record.event("thought", step=step, thought="Reasoning about the next change. " * 8)
        if step % 10 == 0:
            record.event("action", step=step, action="validate")
            score = rng.uniform(0.7, 0.9)
            dev.append(score)
            record.event(
                "evaluation",
                step=step,
                split="dev",
                status="ok",
                score=score,
                metrics={"accuracy": score},
                message="",
                seconds=1.5,
            )
            continue
        record.event("action", step=step, action=f"python train.py --lr {rng.random():.4f}")
        lines = rng.choice([5, 20, 60, 400])
        output = "\n".join(f"epoch {i} loss {rng.random():.5f}" for i in range(lines))
        record.event(
            "observation",
            step=step,
            observation=output,
            exit_code=0,
            timed_out=False,
            truncated=False,
            seconds=rng.uniform(0.1, 20),
        )
    (record.root / "artifact").mkdir()
    (record.root / "artifact" / "submission.csv").write_text(
        "id,prediction\n" + "".join(f"{i},{rng.random():.4f}\n" for i in range(200))
    )
    if finished:
        test = rng.uniform(0.7, 0.9)
        record.event("action", step=steps + 1, action="submit")
        record.event("evaluation", step=steps + 1, split="test", status="ok", score=test)
        record.write_result(
            {
                "run_dir": str(record.root),
                "task_id": task,
                "variant": "default",
                "agent": "default",
                "model": model,
                "seed": seed,
                "sandbox": "bwrap",
                "exit_status": rng.choice(
                    ["submitted"] * 8 + ["auto_submitted:steps", "agent_error"]
                ),
                "ended_by": "submit",
                "message": "",
                "metric": "accuracy",
                "direction": "max",
                "baseline_score": 0.75,
                "reference_score": 0.88,
                "dev_scores": dev,
                "best_dev_score": max(dev) if dev else None,
                "test_score": test,
                "normalised_score": (test - 0.75) / 0.13,
                "totals": {
                    "steps": steps + 1,
                    "model_calls": steps,
                    "prompt_tokens": 40_000,
                    "completion_tokens": 2_000,
                    "cost_usd": 0.004 * steps,
                    "wall_seconds": rng.uniform(60, 3600),
                    "validations": len(dev),
                },
                "integrity": {"sandbox": "bwrap", "isolated": True},
            }
        )
        record.close()
    return record


def generate(root: Path, n_runs: int, steps: int) -> tuple[str, RunRecord]:
    rng = random.Random(0)
    for i in range(n_runs):
        task, model = TASKS[i % len(TASKS)], MODELS[(i // len(TASKS)) % len(MODELS)]
        seed = i // (len(TASKS) * len(MODELS))
        write_run(
            root / "runs", f"{task}__{model.replace('/', '_')}__s{seed}", rng, 8, task, model, seed
        )
    long_name = f"long-run-{steps}-steps"
    write_run(root / "long", long_name, rng, steps, "titanic", MODELS[0], 0)
    live = write_run(root / "long", "live-run", rng, 3, "titanic", MODELS[0], 0, finished=False)
    return long_name, live


def get(url: str) -> tuple[float, int]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
    return time.perf_counter() - start, len(body)


def timed(url: str, repeats: int) -> tuple[float, float, int]:
    """(cold, warm median, bytes) of GET url."""
    cold, size = get(url)
    warm = [get(url)[0] for _ in range(repeats)]
    return cold, statistics.median(warm), size


def browser_numbers(base: str, live: RunRecord, repeats: int) -> dict[str, float] | None:
    if not os.access(CHROMIUM, os.X_OK):
        return None
    from playwright.sync_api import sync_playwright

    out: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        paints, ready = [], []
        for _ in range(repeats + 1):
            page.goto(base, wait_until="load")
            entry = page.evaluate(
                """() => new Promise(resolve => new PerformanceObserver(list => {
                    const e = list.getEntriesByName('first-contentful-paint')[0];
                    if (e) resolve(e.startTime);
                }).observe({type: 'paint', buffered: true}))"""
            )
            nav = page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")
            paints.append(entry / 1000)
            ready.append(nav["domContentLoadedEventEnd"] / 1000)
        out["paint_first"] = paints[0]  # a fresh browser: nothing cached, nothing compiled
        out["paint"], out["paint_max"] = statistics.median(paints[1:]), max(paints[1:])
        out["ready"] = statistics.median(ready[1:])
        page.goto(f"{base}run/live-run")
        page.wait_for_function("() => document.getElementById('live-state').textContent === 'live'")
        page.evaluate(
            """() => { window.__seen = {};
            new MutationObserver(() => document.querySelectorAll('.ev[data-seq]').forEach(e => {
                if (!(e.dataset.seq in window.__seen)) window.__seen[e.dataset.seq] = Date.now();
            })).observe(document.getElementById('blocks'), {childList: true, subtree: true}); }"""
        )
        latencies = []
        for i in range(repeats * 3):
            written = time.time()
            live.event("note", message=f"live event {i}")
            seq = live._seq
            page.wait_for_selector(f'.ev[data-seq="{seq}"]', timeout=10_000)
            seen = page.evaluate(f"() => window.__seen['{seq}']") / 1000
            latencies.append(seen - written)
            time.sleep(random.uniform(0.05, 0.3))  # writes land anywhere in the poll cycle
        out["live"], out["live_max"] = statistics.median(latencies), max(latencies)
        browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rgym-bench-view-") as tmp:
        t = time.perf_counter()
        long_name, live = generate(Path(tmp), args.runs, args.steps)
        made = time.perf_counter() - t
        viewer = start_in_thread(Site([Path(tmp)]))
        try:
            runs_page = timed(viewer.url, args.repeats)
            run_page = timed(f"{viewer.url}run/{long_name}", args.repeats)
            board = timed(f"{viewer.url}leaderboard", max(1, args.repeats // 3))
            shown = browser_numbers(viewer.url, live, args.repeats)
        finally:
            live.close()
            viewer.stop()

    def row(name: str, value: float, target: str, extra: str = "") -> None:
        print(f"  {name:<44} {value * 1000:>9.0f} ms   {target:<10} {extra}".rstrip())

    print(f"rgym view benchmark: {args.runs + 2} runs written in {made:.1f} s")
    print(f"  {'measure':<44} {'value':>12}   {'target':<10} notes")
    row(
        "runs page, server time (cold: first walk)",
        runs_page[0],
        "< 1000 ms",
        f"{runs_page[2] / 1e6:.2f} MB of HTML",
    )
    row("runs page, server time (warm, median)", runs_page[1], "< 1000 ms")
    row(
        f"{args.steps}-step run page, server time (cold)",
        run_page[0],
        "< 300 ms",
        f"{run_page[2] / 1e6:.2f} MB of HTML",
    )
    row(f"{args.steps}-step run page, server time (warm)", run_page[1], "< 300 ms")
    row(f"leaderboard of {args.runs} runs (cold: build_report)", board[0], "—")
    row("leaderboard (warm: cached report)", board[1], "—")
    if shown is None:
        print(f"  browser numbers skipped: {CHROMIUM} is missing")
    else:
        row("runs page, first contentful paint (first load)", shown["paint_first"], "< 2000 ms")
        row(
            "runs page, first contentful paint (reloads)",
            shown["paint"],
            "< 2000 ms",
            f"median; max {shown['paint_max'] * 1000:.0f} ms",
        )
        row("runs page, DOMContentLoaded (median)", shown["ready"], "—")
        row(
            "live update, write to screen (median)",
            shown["live"],
            "< 2000 ms",
            f"max {shown['live_max'] * 1000:.0f} ms over {args.repeats * 3}",
        )
    print(
        f"  python {sys.version.split()[0]}, {os.cpu_count()} CPUs; reproduce: "
        f".venv/bin/python benchmarks/bench_view.py --runs {args.runs} --steps {args.steps} "
        f"--repeats {args.repeats}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
