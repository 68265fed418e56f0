"""`rgym export` over 1,000 runs: the time it takes and the memory it needs, per format.

The runs are synthesised from real ones. Three real runs of prisoners-dilemma:tiny are made
first (rgym's research agent against the fake OpenAI-compatible server in tests/fake_llm.py,
text and tool-calling protocols, and a replayed run; real bwrap sandboxes and grader), then each
of the 1,000 is a copy of one of them whose episode is lengthened to --steps actions (its shell
turn repeated with outputs of 200 to 8,000 characters, the sizes real commands print), with its
own run id, seed and scores. Each export runs in a fresh process, so its peak memory (max RSS)
is its own.

    .venv/bin/python benchmarks/bench_export.py [--runs 1000] [--steps 40] [--keep DIR]

Prints one line per export: rows, seconds, runs per second, peak RSS and output size.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPORTS = [
    ("sft", "openai", False, "sft.jsonl"),
    ("sft", "trl", True, "sft-steps.jsonl"),
    ("sft", "openai", False, "sft.parquet"),
    ("sft", "verl", False, "sft-verl.parquet"),
    ("rl", "episodes", False, "rl.jsonl"),
    ("rl", "verl", False, "rl-verl.parquet"),
]


def real_runs(into: Path) -> list[Path]:
    """Three real runs to copy (see the module docstring)."""
    sys.path.insert(0, str(ROOT))
    import yaml

    from rgym.runs.runner import RunConfig, run
    from tests.export.conftest import TEXT_SCRIPT, TOOLS_SCRIPT, _agent_run

    text = _agent_run(into, TEXT_SCRIPT)
    tools = _agent_run(into, TOOLS_SCRIPT, protocol="tools")
    actions = into.parent / "actions.yaml"
    actions.write_text(yaml.safe_dump(["ls", "cat strategy.py", "validate", "submit"]))
    replay = run(
        RunConfig(task="prisoners-dilemma", variant="tiny", actions=actions, runs_dir=into)
    ).run_dir
    for r in (text, tools):
        (r / "requests.json").unlink()
    return [text, tools, replay]


def text_pool(rng: random.Random, size: int = 1 << 20) -> str:
    """Text that looks like command output (letters, spaces, newlines), to cut outputs from."""
    return "".join(rng.choices("abcdefghij klmnop 0123456789.,:\n", k=size))


def lengthen(events: list[dict], steps: int, rng: random.Random, pool: str) -> list[dict]:
    """The episode with its first shell turn (model_call, the reply's message event, thought,
    action, observation, and the output as the model was sent it) repeated until it has `steps`
    actions; outputs of 200 to 8,000 characters."""
    actions = [i for i, e in enumerate(events) if e["type"] == "action"]
    first_obs = next(i for i, e in enumerate(events) if e["type"] == "observation")
    end = first_obs + 1
    if end < len(events) and events[end].get("kind") == "observation":
        end += 1  # its message event (runs that record what their agent sends)
    start = max(
        (i for i in range(first_obs) if events[i]["type"] in ("model_call", "thought", "action")),
        default=first_obs,
    )
    while start > 0 and (
        events[start - 1]["type"] in ("model_call", "thought")
        or events[start - 1].get("kind") == "reply"
    ):
        start -= 1
    turn = events[start:end]
    extra = []
    for _ in range(max(0, steps - len(actions))):
        for e in turn:
            e = dict(e)
            if e["type"] == "observation":
                size = rng.randint(200, 8000)
                start = rng.randrange(len(pool) - size)
                e["observation"] = pool[start : start + size]
            elif e.get("kind") == "observation":  # the same output, with the footer it was sent
                footer = e["content"][e["content"].rindex("\n\n(Step") :]
                e["content"] = extra[-1]["observation"] + footer
            extra.append(e)
    out = events[:end] + extra + events[end:]
    t0 = out[0]["time"]
    for n, e in enumerate(out, 1):  # keep seq and time increasing
        e["seq"], e["time"] = n, t0 + n * 0.5
    return out


def synthesise(templates: list[Path], into: Path, n: int, steps: int) -> int:
    rng = random.Random(0)
    pool = text_pool(rng)
    size = 0
    for i in range(n):
        src = templates[i % len(templates)]
        dst = into / f"{src.name}-{i:04d}"
        dst.mkdir(parents=True)
        if (src / "artifact").exists():
            shutil.copytree(src / "artifact", dst / "artifact")
        manifest = json.loads((src / "manifest.json").read_text())
        result = json.loads((src / "result.json").read_text())
        manifest["run_id"] = result["run_id"] = dst.name
        manifest["seed"] = result["seed"] = i
        manifest["budget"] = {**manifest["budget"], "max_steps": steps + 10}  # footers stay sane
        if result.get("normalised_score") is not None:
            result["normalised_score"] = round(rng.uniform(-0.5, 1.2), 4)
        events = [json.loads(line) for line in (src / "events.jsonl").read_text().splitlines()]
        (dst / "manifest.json").write_text(json.dumps(manifest))
        (dst / "result.json").write_text(json.dumps(result))
        body = "\n".join(json.dumps(e) for e in lengthen(events, steps, rng, pool)) + "\n"
        (dst / "events.jsonl").write_text(body)
        size += len(body)
    return size


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, where Linux has it: ru_maxrss survives
    exec, so a child started by a big parent would report the parent's peak."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(kind: str, fmt: str, per_step: bool, runs: Path, out: Path) -> None:
    """Run one export in this process and print its numbers as JSON."""
    from rgym.export.command import ExportOptions, export_runs

    start = time.perf_counter()
    report = export_runs([runs], out, ExportOptions(kind=kind, fmt=fmt, per_step=per_step))
    seconds = time.perf_counter() - start
    peak_mb = peak_rss_mb()
    print(json.dumps({"rows": report.rows, "runs": report.runs, "seconds": seconds,
                      "peak_mb": peak_mb, "out_mb": out.stat().st_size / 2**20}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--keep", type=Path, help="Make the runs here and keep them.")
    ap.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        kind, fmt, per_step, runs, out = args.one
        one(kind, fmt, per_step == "1", Path(runs), Path(out))
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-export-"))
    real = work / "real"
    real.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    templates = real_runs(real)
    print(f"3 real runs made in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    size = synthesise(templates, work / "runs", args.runs, args.steps)
    print(f"{args.runs} runs of {args.steps} actions synthesised ({size / 2**20:.0f} MB of "
          f"events) in {time.perf_counter() - t:.1f} s")  # fmt: skip
    for kind, fmt, per_step, name in EXPORTS:
        cmd = [sys.executable, __file__, "--one", kind, fmt, "1" if per_step else "0",
               str(work / "runs"), str(work / name)]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        label = f"{kind} --format {fmt}{' --per-step' if per_step else ''} -> {name}"
        print(f"{label:48} {r['rows']:6} rows  {r['seconds']:6.1f} s  "
              f"{r['runs'] / r['seconds']:6.1f} runs/s  peak {r['peak_mb']:5.0f} MB  "
              f"out {r['out_mb']:5.0f} MB")  # fmt: skip
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
