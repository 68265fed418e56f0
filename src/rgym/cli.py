"""The `rgym` command: tasks | run | data | verify | report.

Each command builds a config and calls the library; heavy modules are imported inside commands so
`rgym --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rgym.errors import RgymError

app = typer.Typer(
    name="rgym",
    help="An open gym and benchmark for AI research agents: sandboxed ML research tasks, "
    "graders the agent cannot touch, a Gymnasium environment and a harness.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
data_app = typer.Typer(help="Prepare and inspect task data.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()
err = Console(stderr=True)

TasksDir = Annotated[
    list[Path] | None,
    typer.Option(
        "--tasks-dir", help="A folder of your own tasks (or one task folder); repeatable."
    ),
]
Sandbox = Annotated[
    str, typer.Option("--sandbox", help="bwrap (default: isolated) or local (NO isolation).")
]


def _version(value: bool) -> None:
    if value:
        from rgym import __version__

        print(f"rgym {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """An open gym and benchmark for AI research agents."""


def _fail(e: Exception) -> None:
    err.print(f"[bold red]error:[/] {e}", highlight=False)
    raise typer.Exit(2)


@app.command("tasks")
def tasks_cmd(
    tasks_dir: TasksDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
):
    """List the tasks: id, family, variants, metric, direction, baseline."""
    from rgym.tasks.registry import all_tasks

    try:
        tasks = all_tasks(tasks_dir)
    except RgymError as e:
        _fail(e)
    rows = [
        {
            "id": t.id,
            "family": t.family,
            "variants": list(t.variants),
            "metric": t.metric.name,
            "direction": str(t.metric.direction),
            "baseline": t.baseline_score("default"),
            "reference": t.reference_score("default"),
            "gym_id": t.gym_id,
        }
        for t in sorted(tasks.values(), key=lambda t: (t.family, t.id))
    ]
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    table = Table(title=f"{len(rows)} tasks")
    for col in ("id", "family", "variants", "metric", "dir", "baseline", "reference"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["id"],
            r["family"],
            ", ".join(r["variants"]),
            r["metric"],
            r["direction"],
            _fmt(r["baseline"]),
            _fmt(r["reference"]),
        )
    console.print(table)


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


@app.command("run")
def run_cmd(
    task: Annotated[str, typer.Argument(help="Task id (see `rgym tasks`), or a task folder.")],
    model: Annotated[
        str | None,
        typer.Option(
            help="A LiteLLM model string (e.g. anthropic/claude-sonnet-4-5, openai/gpt-4o). "
            "Without it, the task's demonstration is replayed.",
            rich_help_panel="Agent",
        ),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            help="replay or default; default: 'default' with --model, else 'replay'.",
            rich_help_panel="Agent",
        ),
    ] = None,
    actions: Annotated[
        Path | None,
        typer.Option(
            help="replay: a YAML/JSON list of actions, or an earlier run's folder.",
            rich_help_panel="Agent",
        ),
    ] = None,
    api_base: Annotated[
        str | None,
        typer.Option(
            help="Base URL of an OpenAI-compatible server (local models).", rich_help_panel="Agent"
        ),
    ] = None,
    temperature: Annotated[float | None, typer.Option(rich_help_panel="Agent")] = None,
    top_p: Annotated[float | None, typer.Option(rich_help_panel="Agent")] = None,
    protocol: Annotated[
        str,
        typer.Option(
            help="text (a discussion, then one command block) or tools (native tool calling).",
            rich_help_panel="Agent",
        ),
    ] = "text",
    max_steps: Annotated[int | None, typer.Option(rich_help_panel="Budgets")] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(help="Dollars, retries and re-asks included.", rich_help_panel="Budgets"),
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(rich_help_panel="Budgets")] = None,
    max_wall: Annotated[
        float | None, typer.Option(help="Wall-clock seconds.", rich_help_panel="Budgets")
    ] = None,
    max_validations: Annotated[int | None, typer.Option(rich_help_panel="Budgets")] = None,
    variant: Annotated[str, typer.Option(help="Task variant.")] = "default",
    seed: int = 0,
    sandbox: Sandbox = "bwrap",
    runs_dir: Annotated[Path, typer.Option(help="Where run records go.")] = Path("runs"),
    tasks_dir: TasksDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress.")] = False,
):
    """Run an agent on a task in a sandbox and score it.

    Examples:

      rgym run titanic                      # replay the task's demonstration (no API key)

      rgym run titanic --model anthropic/claude-sonnet-4-5 --max-cost 2

      rgym run blotto --model my-model --api-base http://127.0.0.1:8000/v1
    """
    from rgym.budget import Budget
    from rgym.runs.runner import RunConfig, run

    agent = agent or ("default" if model else "replay")
    options = {"protocol": protocol}
    for k, v in (("api_base", api_base), ("temperature", temperature), ("top_p", top_p)):
        if v is not None:
            options[k] = v
    config = RunConfig(
        task=task,
        variant=variant,
        sandbox=sandbox,
        agent=agent,
        model=model,
        actions=actions,
        seed=seed,
        runs_dir=runs_dir,
        tasks_dirs=tasks_dir or [],
        agent_options=options,
        budget=Budget(
            max_steps=max_steps,
            max_cost_usd=max_cost,
            max_tokens=max_tokens,
            max_wall_seconds=max_wall,
            max_validations=max_validations,
        ),
    )
    if sandbox == "local":
        from rgym.sandbox.local import WARNING

        err.print(f"[bold yellow]WARNING[/] {WARNING}")

    def on_start(env, record):
        if not quiet:
            console.print(
                f"[bold]rgym run[/] {env.spec_.id} ({env.variant_name}) · agent "
                f"{config.agent} · sandbox {env.backend.name}"
                f"{'' if env.backend.isolated else ' [red](NO ISOLATION)[/]'} · "
                f"limits {env.sandbox.limits_in_force}"
            )
            console.print(f"run record: {record.root}")

    def on_step(step, action, obs, info):
        if quiet:
            return
        first = action.strip().splitlines()[0] if action.strip() else ""
        more = " …" if len(action.strip().splitlines()) > 1 else ""
        lines = [ln for ln in obs.strip().splitlines() if ln.strip()]
        short = (lines[-1] if lines else "")[:110]
        console.print(f"[cyan]step {step:>3}[/] [bold]$ {first[:80]}{more}[/]", highlight=False)
        if short:
            console.print(f"         [dim]{short}[/]", highlight=False)

    try:
        result = run(config, on_step=on_step, on_start=on_start)
    except RgymError as e:
        _fail(e)
    _summary(result)
    if result.exit_status in ("infra_error", "agent_error"):
        raise typer.Exit(1)


def _summary(r) -> None:
    t = Table(show_header=False, title="result", title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    status_style = "green" if r.exit_status.startswith(("submitted", "auto_submitted")) else "red"
    t.add_row(
        "exit status",
        f"[{status_style}]{r.exit_status}[/]"
        + (f" (ended by {r.ended_by})" if r.ended_by not in (None, "submit") else ""),
    )
    sandbox = r.sandbox + (
        "  [bold red](NO ISOLATION: not a trustworthy score)[/]" if r.sandbox == "local" else ""
    )
    t.add_row("sandbox", sandbox)
    if r.message:
        t.add_row("message", r.message[:300])
    t.add_row("dev scores", ", ".join(f"{s:.4f}" for s in r.dev_scores) or "—")
    t.add_row(f"test {r.metric} ({r.direction})", _fmt(r.test_score))
    t.add_row("baseline", _fmt(r.baseline_score))
    t.add_row("reference", _fmt(r.reference_score))
    t.add_row("normalised score", _fmt(r.normalised_score) + "  (0 = baseline, 1 = reference)")
    tot = r.totals
    t.add_row(
        "spent",
        f"{tot.steps} steps · {tot.validations} validations · {tot.model_calls} "
        f"model calls · {tot.prompt_tokens + tot.completion_tokens} tokens · "
        f"${tot.cost_usd:.4f} · {tot.wall_seconds:.1f} s",
    )
    t.add_row("run record", str(r.run_dir))
    console.print(t)


@data_app.command("prepare")
def data_prepare(
    tasks: Annotated[list[str] | None, typer.Argument(help="Task ids; default: all.")] = None,
    variant: str = "default",
    force: Annotated[bool, typer.Option(help="Rebuild even if cached.")] = False,
    tasks_dir: TasksDir = None,
):
    """Prepare task data ahead of time (a run prepares on first use)."""
    from rgym.tasks.data import prepare_data
    from rgym.tasks.verify import default_tasks

    try:
        specs = default_tasks(tasks, tasks_dir)
        for spec in specs:
            if variant not in spec.variants:
                continue
            with console.status(f"preparing {spec.id} ({variant})…"):
                d = prepare_data(spec, variant, force=force)
            n = len(d.info.get("public", {})) + len(d.info.get("private", {}))
            console.print(
                f"[green]✓[/] {spec.id:<22} {n} files  {d.public.parent}  "
                f"[dim]{d.info.get('licence', '')}[/]"
            )
    except RgymError as e:
        _fail(e)


@data_app.command("info")
def data_info(task: str, variant: str = "default", tasks_dir: TasksDir = None):
    """Show where a task's data comes from, its licence and checksums."""
    from rgym.tasks.data import prepare_data
    from rgym.tasks.registry import get_task

    try:
        d = prepare_data(get_task(task, tasks_dir), variant)
    except RgymError as e:
        _fail(e)
    print(json.dumps(d.info, indent=1))


@app.command("verify")
def verify_cmd(
    tasks: Annotated[list[str] | None, typer.Argument(help="Task ids; default: all.")] = None,
    variant: str = "default",
    sandbox: Sandbox = "bwrap",
    tasks_dir: TasksDir = None,
):
    """Health check: run each task's baseline and reference through the real graders."""
    from rgym.tasks.verify import default_tasks, verify_task

    try:
        specs = [s for s in default_tasks(tasks, tasks_dir) if variant in s.variants]
    except RgymError as e:
        _fail(e)
    table = Table(title=f"rgym verify ({variant})")
    for col in ("task", "metric", "baseline", "reference", "normalised ref.", "seconds", "ok"):
        table.add_column(col)
    failed = []
    for spec in specs:
        with console.status(f"verifying {spec.id}…"):
            try:
                row = verify_task(spec, variant, sandbox)
            except RgymError as e:
                failed.append(f"{spec.id}: {e}")
                continue
        table.add_row(
            spec.id,
            f"{spec.metric.name} ({spec.metric.direction})",
            _fmt(row.baseline.score if row.baseline else None),
            _fmt(row.reference.score if row.reference else None),
            _fmt(row.normalised_reference),
            f"{row.seconds:.1f}",
            "[green]yes[/]" if row.ok else "[red]NO[/]",
        )
        failed += [f"{spec.id}: {p}" for p in row.problems]
    console.print(table)
    if failed:
        for f in failed:
            err.print(f"[red]✗[/] {f}", highlight=False)
        raise typer.Exit(1)


@app.command("report")
def report_cmd(
    runs_dirs: Annotated[list[Path], typer.Argument(help="Folders of rgym and/or MLGym runs.")],
    fmt: Annotated[str, typer.Option("--format", help="md, csv or json.")] = "md",
    out: Annotated[Path | None, typer.Option(help="Write tables and plots here.")] = None,
):
    """Leaderboard tables: scores, ranks, performance profiles/AUP, normalised scores with CIs."""
    from rgym.metrics.cli import report_command

    raise typer.Exit(report_command(runs_dirs, fmt=fmt, out=out, console=console))


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except RgymError as e:
        err.print(f"[bold red]error:[/] {e}")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
