"""`rgym batch` numbers, printed as one table:

- Throughput: N replay runs of a task (default: 100 of battle-of-sexes, `--cpus-per-run 1`, so
  two run at once on a 2-core machine) on the local pool, against the same N run one after
  another in a loop in this process (`execute_job`, as a worker would); runs per minute, and
  the pool's overhead per run (time from submit to end, less the time the worker spent in the
  job).
- Ray (`--ray`): the same runs on a local Ray instance; its overhead per run against the
  pool's (target under 1 s).
- Scale, simulated: a 676-run MLGym-sized matrix (13 tasks × 13 models × 4 seeds) planned,
  run, resumed after a quarter of its records were cut short, and reported, with an instant
  job function on the local pool (target: planning, resume scan and report under 10 s).
- Memory: what the driver allocates (tracemalloc, peak) to plan and run 1,000 instant runs.

Run from the repository root:

    .venv/bin/python benchmarks/bench_batch.py [--runs 100] [--task battle-of-sexes]
        [--cpus-per-run 1] [--ray] [--skip-real] [--skip-simulated] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from rgym.batch.driver import BatchResult, make_backend, run_batch
from rgym.batch.job import Job, JobOutcome, execute_job
from rgym.batch.local import available_cpus
from rgym.batch.plan import plan_cells
from rgym.batch.spec import BatchSpec, check_matrix, parse_spec, slot_cpus
from rgym.runs.record import RunRecord

BUILTIN = [
    "sat-heuristic",
    "sat-heuristic:tiny",
    "battle-of-sexes",
    "blotto",
    "blotto:tiny",
    "prisoners-dilemma",
    "prisoners-dilemma:tiny",
    "house-price",
    "house-price:tiny",
    "house-price-l1",
    "house-price-l1:tiny",
    "titanic",
]


def instant_job(job: Job) -> JobOutcome:
    """A run that takes no time but leaves a record shaped like a real one."""
    seed = int(job.config["seed"])
    record = RunRecord(Path(job.runs_dir) / job.run_id)
    record.write_manifest({"task": job.config["task"], "agent": "bench", "model": "bench"})
    score = 1.0 + (hash((job.config["model"], job.config["task"])) % 100) / 100 + seed / 1000
    record.write_result(
        {
            "task_id": job.config["task"].partition(":")[0],
            "variant": job.config["variant"],
            "agent": "default",
            "model": job.config["model"],
            "seed": seed,
            "sandbox": "bwrap",
            "exit_status": "submitted",
            "metric": "Score",
            "direction": "max",
            "baseline_score": 1.0,
            "reference_score": 2.0,
            "test_score": score,
            "totals": {"cost_usd": 0.01, "prompt_tokens": 1000, "completion_tokens": 100},
            "integrity": {"sandbox": "bwrap", "isolated": True},
        }
    )
    record.close()
    return JobOutcome(
        run_id=job.run_id,
        cell=job.cell,
        attempt=job.attempt,
        exit_status="submitted",
        test_score=score,
    )


def real_spec(task: str, runs: int, cpus_per_run: float) -> BatchSpec:
    return parse_spec({"tasks": [task], "seeds": runs, "resources": {"cpus": cpus_per_run}})


def loop(spec: BatchSpec, runs_dir: Path) -> float:
    """The same runs one after another in this process: the baseline a batch must beat."""
    cells = plan_cells(spec, check_matrix(spec))
    start = time.monotonic()
    for cell in cells:
        outcome = execute_job(cell.job(runs_dir, 1))
        assert outcome.exit_status == "submitted", outcome
    return time.monotonic() - start


def pooled(spec: BatchSpec, out: Path) -> tuple[float, float, BatchResult]:
    """Seconds to start the backend (Ray's init; nothing for the pool, whose workers start
    with their first job), and to run the batch on it."""
    start = time.monotonic()
    backend = make_backend(spec)
    started = time.monotonic() - start
    try:
        start = time.monotonic()
        result = run_batch(spec, out, backend=backend, report=False)
        seconds = time.monotonic() - start
    finally:
        backend.shutdown()
    assert result.exit_code == 0, result
    return started, seconds, result


def mlgym_sized(root: Path, seeds: int = 4) -> BatchSpec:
    """13 tasks × 13 models × `seeds`: the 12 built-in task variants and a copy of one."""
    tasks_dir = root / "tasks"
    import rgym.tasks.catalog as catalog

    copy = tasks_dir / "bench-copy"
    shutil.copytree(Path(catalog.__path__[0]) / "battle-of-sexes", copy)
    yaml = copy / "task.yaml"
    yaml.write_text(yaml.read_text().replace("id: battle-of-sexes", "id: bench-copy", 1))
    return parse_spec(
        {
            "name": "mlgym-sized",
            "tasks": [*BUILTIN, "bench-copy"],
            "agents": [{"model": f"model-{i:02d}"} for i in range(13)],
            "seeds": seeds,
            "tasks_dirs": [str(tasks_dir)],
            "resources": {"cpus": 1},
        }
    )


def simulated(root: Path) -> dict[str, float]:
    spec = mlgym_sized(root)
    out = root / "mlgym-sized"
    first = run_batch(spec, out, runner=instant_job, check_agents_first=False)
    assert first.exit_code == 0 and first.total == 676, first
    # a crash: a quarter of the runs lost their result (as a SIGKILL mid-run leaves them)
    runs = sorted((out / "runs").iterdir())
    for run in runs[::4]:
        (run / "result.json").unlink()
    start = time.monotonic()
    again = run_batch(spec, out, runner=instant_job, resume=True, check_agents_first=False)
    resumed = time.monotonic() - start
    assert again.exit_code == 0 and again.tally.ended_now == len(runs[::4]), again
    tables, plots = report_split(out, root / "report-split")
    return {
        "tables": tables,
        "plots": plots,
        "cells": first.total,
        "plan": first.timings["plan"],
        "run": first.timings["run"],
        "report": first.timings["report"],
        "resume plan": again.timings["plan"],
        "resume scan": again.timings["scan"],
        "rerun": again.timings["run"],
        "resume report": again.timings["report"],
        "resume total": resumed,
        "redone": again.tally.ended_now,
    }


def report_split(batch: Path, out: Path) -> tuple[float, float]:
    """Seconds to read the batch and build the tables, and to draw the plots."""
    from rgym.metrics.report import build_report
    from rgym.metrics.write import write_report

    start = time.monotonic()
    report = build_report([batch])
    write_report(report, out / "tables", "md", plots=False)
    tables = time.monotonic() - start
    start = time.monotonic()
    write_report(report, out / "plots", "md")
    return tables, time.monotonic() - start


def memory(root: Path) -> tuple[float, float]:
    """KiB the driver allocates (peak) to plan 1,000 runs, and to plan and run them."""
    spec = parse_spec(
        {
            "tasks": BUILTIN[:10],
            "agents": [{"model": f"model-{i:02d}"} for i in range(10)],
            "seeds": 10,
            "resources": {"cpus": 1},
        }
    )
    assert spec.matrix_size() == 1000
    check_matrix(spec)  # warm caches (the task catalogue) outside the measurement
    tracemalloc.start()
    cells = plan_cells(spec, check_matrix(spec))
    plan_peak = tracemalloc.get_traced_memory()[1]
    del cells
    tracemalloc.reset_peak()
    backend = make_backend(spec, instant_job)
    result = run_batch(
        spec,
        root / "memory",
        backend=backend,
        runner=instant_job,
        check_agents_first=False,
        report=False,
    )
    run_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    backend.shutdown()
    assert result.exit_code == 0
    return plan_peak / 1024, run_peak / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--task", default="battle-of-sexes")
    p.add_argument("--cpus-per-run", type=float, default=1.0)
    p.add_argument("--ray", action="store_true", help="also run the batch on a local Ray")
    p.add_argument("--skip-real", action="store_true", help="only the simulated numbers")
    p.add_argument("--skip-simulated", action="store_true", help="only the real runs")
    p.add_argument("--keep", type=Path, help="keep the batch folders here")
    args = p.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-batch-"))
    root.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    try:
        if not args.skip_real:
            spec = real_spec(args.task, args.runs, args.cpus_per_run)
            n = args.runs
            seq = loop(spec, root / "loop")
            rows.append((f"loop: {n} runs of {args.task}, one after another", f"{seq:.1f} s"))
            rows.append(("loop: runs per minute", f"{n / seq * 60:.1f}"))
            _, wall, local = pooled(spec, root / "local")
            cores = len(available_cpus(None))
            at_once = max(1, cores // slot_cpus(args.cpus_per_run))
            rows.append((f"local pool: {cores} cores, {at_once} runs at once", f"{wall:.1f} s"))
            rows.append(("local pool: runs per minute", f"{n / wall * 60:.1f}"))
            rows.append(("local pool: speed-up over the loop", f"{seq / wall:.2f}x"))
            over = local.overheads
            rows.append(
                (
                    "local pool: overhead per run (median, max)",
                    f"{statistics.median(over) * 1000:.0f} ms, {max(over) * 1000:.0f} ms",
                )
            )
            if args.ray:
                ray_spec = spec.model_copy(update={"backend": "ray"})
                ray_start, ray_wall, ray = pooled(ray_spec, root / "ray")
                rows.append(("ray: starting a local instance", f"{ray_start:.1f} s"))
                rows.append((f"ray: {n} runs on it", f"{ray_wall:.1f} s"))
                rows.append(("ray: runs per minute", f"{n / ray_wall * 60:.1f}"))
                per_run = (ray_wall - wall) / n * at_once  # each of `at_once` slots' share
                rows.append(("ray: extra time per run against the pool", f"{per_run:.2f} s"))
                if ray.overheads:
                    rows.append(
                        (
                            "ray: overhead per run (median, max)",
                            f"{statistics.median(ray.overheads) * 1000:.0f} ms, "
                            f"{max(ray.overheads) * 1000:.0f} ms",
                        )
                    )
        if args.skip_simulated:
            return _print(rows)
        sim = simulated(root)
        rows.append((f"simulated: {sim['cells']:.0f} cells planned", f"{sim['plan']:.2f} s"))
        rows.append(("simulated: run with an instant job", f"{sim['run']:.2f} s"))
        rows.append(("simulated: report (tables and plots)", f"{sim['report']:.2f} s"))
        rows.append(
            (
                f"simulated: resume ({sim['redone']:.0f} cut short): plan + scan",
                f"{sim['resume plan']:.2f} s + {sim['resume scan']:.2f} s",
            )
        )
        rows.append(
            (
                "simulated: resume: rerun + report",
                f"{sim['rerun']:.2f} s + {sim['resume report']:.2f} s",
            )
        )
        rows.append(
            (
                "simulated: report = tables + plots (measured apart)",
                f"{sim['tables']:.2f} s + {sim['plots']:.2f} s",
            )
        )
        target = sim["resume plan"] + sim["resume scan"] + sim["resume report"]
        rows.append(
            ("simulated: planning + resume scan + report (target < 10 s)", f"{target:.2f} s")
        )
        rows.append(
            (
                "simulated: the same with the report's tables only",
                f"{sim['resume plan'] + sim['resume scan'] + sim['tables']:.2f} s",
            )
        )
        plan_kib, run_kib = memory(root)
        rows.append(("driver memory per 1,000 planned runs (plan, peak)", f"{plan_kib:,.0f} KiB"))
        rows.append(("driver memory per 1,000 runs (plan + run, peak)", f"{run_kib:,.0f} KiB"))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    _print(rows)


def _print(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
