"""Make the screenshots of `rgym view` in docs/img/ from real runs, in headless Chromium.

Run from the repository root (about three minutes; needs bubblewrap and /usr/bin/chromium):

    .venv/bin/python scripts/screenshots.py [--out docs/img] [--keep RUNS_DIR]

The runs are real `rgym run`s in the bwrap sandbox with the real graders: the tasks'
demonstrations replayed, and the default LLM agent talking to the scripted OpenAI-compatible
server of the test suite (tests/fake_llm.py), under the model names `scripted-a` and
`scripted-b` with a made-up price, so the pages show model calls, tokens, cost and latency
without an API key. One scripted run is still in progress (its server answers slowly) when the
runs page and its run page are taken, so both show a run live.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fake_llm: the scripted model server

from rgym.runs.runner import RunConfig, run  # noqa: E402
from rgym.viewer.server import start_in_thread  # noqa: E402
from rgym.viewer.site import Site  # noqa: E402
from tests.fake_llm import FakeLLM, delay  # noqa: E402
from tests.viewer.browser import ARGS, CHROMIUM  # noqa: E402  (one launch recipe)

PRICE = {"input_cost_per_token": 3e-6, "output_cost_per_token": 15e-6}
HEIGHTS = {"runs": 900, "run": 1900, "run-finished": 2300, "compare": 1500, "leaderboard": 1500}
"""How much of each page (from the top) a screenshot shows, in pixels."""
ALWAYS = {"battle-of-sexes": 0, "prisoners-dilemma": 1}
"""The move the good scripted agent commits to (what each task's demonstration finds)."""


def good_script(task: str) -> list:
    move = ALWAYS[task]
    return [
        "DISCUSSION\nFirst read the starter strategy to see what it does.\n```\n"
        "cat strategy.py\n```",
        "DISCUSSION\nScore the starter on the dev games so there is a number to beat.\n```\n"
        "validate\n```",
        "I would try a fixed move next.",  # no command block: the agent is asked again
        f"DISCUSSION\nThe opponent reacts to my last move; commit to {move} every round.\n```\n"
        f"cat > strategy.py <<'PY'\ndef row_strategy(history):\n    return {move}\nPY\n```",
        "DISCUSSION\nCheck the change on the dev games.\n```\nvalidate\n```",
        "DISCUSSION\nLook at the game log format before submitting.\n```\nseq 1 120\n```",
        "DISCUSSION\nBetter than the starter on the dev games. Submit.\n```\nsubmit\n```",
    ]


def weak_script() -> list:
    return [
        "DISCUSSION\nList the workspace.\n```\nls -la\n```",
        "DISCUSSION\nThe starter looks reasonable; keep it.\n```\nvalidate\n```",
        "DISCUSSION\nSubmit the starter.\n```\nsubmit\n```",
    ]


def scripted_run(runs: Path, task: str, seed: int, model: str, script: list) -> Path:
    with FakeLLM(script) as llm:
        options = {
            "api_base": llm.url + "/v1",
            "retry": {"backoff_s": 0.01},
            "completion_kwargs": PRICE,
        }
        result = run(
            RunConfig(
                task=task,
                agent="default",
                model=model,
                seed=seed,
                runs_dir=runs,
                agent_options=options,
            )
        )
    print(f"  {result.run_id}: {result.exit_status}", flush=True)
    return Path(result.run_dir)


def make_runs(runs: Path) -> tuple[threading.Thread, list[Path]]:
    """Finished runs, then one left running in a thread (returned, with the finished ones)."""
    made = []
    for task in ("battle-of-sexes", "prisoners-dilemma"):
        for seed in (0, 1):
            result = run(RunConfig(task=task, seed=seed, runs_dir=runs))
            print(f"  {result.run_id}: {result.exit_status}", flush=True)
            made.append(Path(result.run_dir))
        made.append(scripted_run(runs, task, 0, "scripted-a", good_script(task)))
        made.append(scripted_run(runs, task, 0, "scripted-b", weak_script()))
    made.append(
        scripted_run(runs, "battle-of-sexes", 1, "scripted-a", good_script("battle-of-sexes"))
    )
    slow = good_script("prisoners-dilemma")
    slow[5:] = [delay(60, slow[5]), slow[6]]  # it waits on its model at step 5
    live = threading.Thread(
        target=scripted_run, args=(runs, "prisoners-dilemma", 1, "scripted-a", slow), daemon=True
    )
    live.start()
    return live, made


def shoot(url: str, out: Path, names: dict[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
        for name, path in names.items():
            page.goto(url + path)
            page.wait_for_load_state("load")
            if page.locator("[data-figure]").count():
                page.wait_for_selector("[data-figure] .main-svg")
            page.wait_for_timeout(800)
            height = page.evaluate("() => document.documentElement.scrollHeight")
            clip = {"x": 0, "y": 0, "width": 1360, "height": min(height, HEIGHTS[name])}
            page.screenshot(path=str(out / f"view-{name}.png"), full_page=True, clip=clip)
            print(f"  wrote {out / f'view-{name}.png'}", flush=True)
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--keep", type=Path, help="make the runs here (kept) instead of a temp")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rgym-shots-") as tmp:
        runs = args.keep or Path(tmp) / "runs"
        print(f"making runs in {runs}", flush=True)
        live, made = make_runs(runs)
        while not any(
            p.name.startswith("prisoners-dilemma__scripted-a__s1") for p in runs.iterdir()
        ):
            time.sleep(0.5)
        time.sleep(15)  # the live run is past its first steps, waiting on its model
        live_id = next(
            p.name for p in runs.iterdir() if p.name.startswith("prisoners-dilemma__scripted-a__s1")
        )
        good = next(p.name for p in made if "battle-of-sexes__scripted-a__s0" in p.name)
        weak = next(p.name for p in made if "battle-of-sexes__scripted-b__s0" in p.name)
        viewer = start_in_thread(Site([runs]))
        try:
            shoot(
                viewer.url,
                args.out,
                {
                    "runs": "",
                    "run": f"run/{live_id}",
                    "run-finished": f"run/{good}",
                    "compare": f"compare?a={good}&b={weak}",
                    "leaderboard": "leaderboard",
                },
            )
        finally:
            viewer.stop()
        live.join(timeout=120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
