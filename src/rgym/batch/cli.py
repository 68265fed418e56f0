"""`rgym batch` as a typer command function; cli.py registers it. Only typer, pathlib and typing
are imported at load time, so `rgym --help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

MATRIX = "Matrix (without a SPEC file)"
BUDGETS = "Each run's budgets (without a SPEC file)"
POOL = "Pool"
LIMITS = "Batch limits"
BACKEND = "Backend"


def batch_cmd(
    spec_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="[SPEC]",
            help="A batch spec YAML file (see docs/batch.md); or build the matrix from flags.",
        ),
    ] = None,
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task", help="A task id, or id:variant; repeatable.", rich_help_panel=MATRIX
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="A LiteLLM model for the research agent; repeatable. Without one, each task's "
            "demonstration is replayed.",
            rich_help_panel=MATRIX,
        ),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(help="replay or default (with --model: default).", rich_help_panel=MATRIX),
    ] = None,
    actions: Annotated[
        Path | None,
        typer.Option(help="replay: an actions file or an earlier run.", rich_help_panel=MATRIX),
    ] = None,
    api_base: Annotated[
        str | None,
        typer.Option(help="An OpenAI-compatible server for --model.", rich_help_panel=MATRIX),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(help="Seeds 0..N-1 for every task and agent.", min=1, rich_help_panel=MATRIX),
    ] = None,
    sandbox: Annotated[
        str | None,
        typer.Option(help="bwrap (default) or local (NO isolation).", rich_help_panel=MATRIX),
    ] = None,
    public_seeds: Annotated[
        bool,
        typer.Option(
            "--public-seeds",
            help="Test sets from each task's public seed (reproducible, not trustworthy).",
            rich_help_panel=MATRIX,
        ),
    ] = False,
    tasks_dir: Annotated[
        list[Path] | None,
        typer.Option("--tasks-dir", help="A folder of your own tasks.", rich_help_panel=MATRIX),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="The batch's name (default: batch).", rich_help_panel=MATRIX)
    ] = None,
    max_steps: Annotated[int | None, typer.Option(rich_help_panel=BUDGETS)] = None,
    max_cost: Annotated[
        float | None, typer.Option(help="Dollars per run.", rich_help_panel=BUDGETS)
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(rich_help_panel=BUDGETS)] = None,
    max_wall: Annotated[
        float | None, typer.Option(help="Wall-clock seconds per run.", rich_help_panel=BUDGETS)
    ] = None,
    max_validations: Annotated[int | None, typer.Option(rich_help_panel=BUDGETS)] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="The batch folder (default: batches/<name>)."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the batch in --out: finished runs are skipped, unfinished ones run "
            "again (the spec must plan the same runs).",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            help="The most runs at once (default: what fits).", min=1, rich_help_panel=POOL
        ),
    ] = None,
    cpus: Annotated[
        int | None,
        typer.Option(
            help="CPU cores the local pool uses (default: all).", min=1, rich_help_panel=POOL
        ),
    ] = None,
    memory_mb: Annotated[
        int | None,
        typer.Option(help="Memory the local pool hands out.", min=1, rich_help_panel=POOL),
    ] = None,
    gpus: Annotated[
        int | None,
        typer.Option(help="GPUs the local pool hands out.", min=0, rich_help_panel=POOL),
    ] = None,
    cpus_per_run: Annotated[
        float | None,
        typer.Option(
            help="CPU cores per run, for every task (each task declares its own; the sandbox's "
            "quota follows). Part of each run's id.",
            rich_help_panel=POOL,
        ),
    ] = None,
    retries: Annotated[
        int | None,
        typer.Option(
            help="Retries of a run that failed on infrastructure (default 2); the agent's "
            "failures are never retried.",
            min=0,
            rich_help_panel=POOL,
        ),
    ] = None,
    batch_max_cost: Annotated[
        float | None,
        typer.Option(
            help="Dollars for the whole batch: once spent, nothing new starts (runs in flight "
            "finish within their own budgets).",
            rich_help_panel=LIMITS,
        ),
    ] = None,
    batch_max_wall: Annotated[
        float | None,
        typer.Option(
            help="Wall-clock seconds for this invocation: then running runs are interrupted "
            "(resumable) and nothing new starts.",
            rich_help_panel=LIMITS,
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(help="local (default) or ray.", rich_help_panel=BACKEND),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="An existing Ray cluster (default: a local Ray instance).",
            rich_help_panel=BACKEND,
        ),
    ] = None,
    ray_ship_records: Annotated[
        bool,
        typer.Option(
            "--ray-ship-records",
            help="Ray: ship each run's record back to the driver's --out (when the nodes do "
            "not share a filesystem with it).",
            rich_help_panel=BACKEND,
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No live view; only events and the summary.")
    ] = False,
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Do not write report/ at the end.")
    ] = False,
) -> None:
    """Run a matrix of tasks × agents × seeds: on a local pool of workers (default) or a Ray
    cluster, resumable, with infrastructure failures retried and batch-level limits.

    The batch folder holds batch.json (every planned run), state.jsonl (what happened),
    runs/ (one record per run), attempts/ (attempts that died or were interrupted) and
    report/ (the `rgym report` tables and plots, written at the end). `rgym report BATCH`
    works on it at any time. Exit status: 0 every run has a final record, 1 some do not
    (limits, infrastructure), 130 stopped by Ctrl-C, 2 bad input.

    Examples:

      rgym batch sweep.yaml                                  # a spec file (docs/batch.md)

      rgym batch sweep.yaml --resume                         # after a crash or Ctrl-C

      rgym batch --task battle-of-sexes --task blotto:tiny --seeds 3 --out batches/demo

      rgym batch --task titanic --model openai/gpt-4o --model anthropic/claude-sonnet-4-5
      --seeds 4 --max-cost 2 --batch-max-cost 50

      rgym batch sweep.yaml --cpus-per-run 1 --workers 2     # two 1-core runs at once

      rgym batch sweep.yaml --backend ray --ray-address auto

    Ctrl-C stops running runs cleanly (recorded as interrupted, resumed by --resume); a
    second Ctrl-C kills them.
    """
    import sys

    from rich.console import Console
    from rich.markup import escape

    from rgym.batch.driver import run_batch
    from rgym.batch.progress import BatchProgress
    from rgym.batch.spec import FLAGS, load_spec, parse_spec, with_overrides
    from rgym.errors import RgymError

    console = Console(soft_wrap=not sys.stdout.isatty())
    err = Console(stderr=True, soft_wrap=True)

    def fail(message: str) -> None:
        err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        raise typer.Exit(2)

    matrix_flags = {
        "--task": task,
        "--model": model,
        "--agent": agent,
        "--actions": actions,
        "--api-base": api_base,
        "--seeds": seeds,
        "--sandbox": sandbox,
        "--public-seeds": public_seeds or None,
        "--tasks-dir": tasks_dir,
        "--name": name,
        "--max-steps": max_steps,
        "--max-cost": max_cost,
        "--max-tokens": max_tokens,
        "--max-wall": max_wall,
        "--max-validations": max_validations,
    }
    try:
        if spec_file is not None:
            given = [flag for flag, value in matrix_flags.items() if value]
            if given:
                fail(
                    f"{', '.join(given)} build a matrix without a spec file; with {spec_file}, "
                    "put them in the file"
                )
            source = str(spec_file)
            spec = load_spec(spec_file)
        else:
            if not task:
                fail("give a SPEC file, or the tasks with --task (see rgym batch --help)")
            source = FLAGS
            spec = parse_spec(
                _flags_spec(
                    task or [],
                    model or [],
                    agent,
                    actions,
                    api_base,
                    seeds,
                    sandbox,
                    public_seeds,
                    tasks_dir,
                    name,
                    {
                        "max_steps": max_steps,
                        "max_cost_usd": max_cost,
                        "max_tokens": max_tokens,
                        "max_wall_seconds": max_wall,
                        "max_validations": max_validations,
                    },
                ),
                FLAGS,
            )
        resources = None
        if cpus_per_run is not None:
            resources = {**spec.resources.model_dump(), "cpus": cpus_per_run}
        spec = with_overrides(
            spec,
            source,
            resources=resources,
            workers=workers,
            cpus=cpus,
            memory_mb=memory_mb,
            gpus=gpus,
            retries=retries,
            max_cost_usd=batch_max_cost,
            max_wall_seconds=batch_max_wall,
            backend=backend,
            ray_address=ray_address,
            ray_ship_records=ray_ship_records or None,
        )
        folder = out if out is not None else Path("batches") / spec.name
        if spec.sandbox == "local":
            from rgym.sandbox.local import WARNING

            err.print(f"[bold yellow]WARNING[/] {escape(WARNING)}")
        progress = BatchProgress(console=console, quiet=quiet)
        result = run_batch(
            spec,
            folder,
            resume=resume,
            progress=progress,
            report=not no_report,
            source=source,
        )
    except RgymError as e:
        fail(str(e))
        return
    t = result.tally
    console.print(
        f"{result.total} runs: {t.done} done, {t.failed} failed, {t.interrupted} interrupted, "
        f"{t.skipped} not started · ${t.cost_usd:.2f} · {t.tokens:,} tokens",
        highlight=False,
    )
    console.print(f"batch folder: {escape(str(result.out))}", soft_wrap=True, highlight=False)
    if result.report is not None:
        console.print(f"report: {escape(str(result.report))}", soft_wrap=True, highlight=False)
    if result.exit_code != 0:
        again = f"rgym batch {spec_file} --resume" if spec_file else "rgym batch ... --resume"
        console.print(
            f"unfinished runs remain ({result.stopped_by or 'infrastructure failures'}); "
            f"continue with: {escape(again)} --out {escape(str(result.out))}",
            soft_wrap=True,
            highlight=False,
        )
    raise typer.Exit(result.exit_code)


def _flags_spec(
    tasks: list[str],
    models: list[str],
    agent: str | None,
    actions: Path | None,
    api_base: str | None,
    seeds: int | None,
    sandbox: str | None,
    public_seeds: bool,
    tasks_dirs: list[Path] | None,
    name: str | None,
    budget: dict[str, float | int | None],
) -> dict:
    """The spec the matrix flags describe (one agent per --model, or the replay agent)."""
    options = {"api_base": api_base} if api_base else {}
    limits = {k: v for k, v in budget.items() if v is not None}
    base = {"options": options, "budget": limits}
    if actions is not None:
        base["actions"] = str(actions.absolute())
    agents = [{**base, "agent": agent, "model": m} for m in models] or [{**base, "agent": agent}]
    spec: dict = {"tasks": tasks, "agents": agents}
    if seeds is not None:
        spec["seeds"] = seeds
    if sandbox is not None:
        spec["sandbox"] = sandbox
    if public_seeds:
        spec["seed_mode"] = "public"
    if tasks_dirs:
        spec["tasks_dirs"] = [str(p.absolute()) for p in tasks_dirs]
    if name is not None:
        spec["name"] = name
    return spec
