"""The `rgym` command: tasks | run | batch | data | verify | report | view | serve | export.

Each command builds a config and calls the library; heavy modules are imported inside commands so
`rgym --help` stays fast.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from rgym.errors import RgymError

app = typer.Typer(
    name="rgym",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
data_app = typer.Typer(
    help="Prepare task data ahead of a run (download or generate, split, checksum) and show "
    "where it came from.\n\nExamples:\n\n  rgym data prepare titanic\n\n  rgym data info "
    "titanic --json",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")
console = Console()
err = Console(stderr=True)
EXIT_LINE = re.compile(r"^\(exit code -?\d+\)$")
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table.")
]


def _show_table(title: str, headers: list[str], rows: list[list[str]], keep: tuple[str, ...]):
    """Print rows so that the `keep` columns (ids, paths) are never cut.

    Not a terminal (a pipe, a file): plain aligned columns, nothing cut or wrapped. A terminal
    wide enough: a table whose other columns wrap. A narrower one: one block per row."""
    columns = [[h, *(r[i] for r in rows)] for i, h in enumerate(headers)]
    if not console.is_terminal:
        widths = [max(map(cell_len, col)) for col in columns]
        for line in [headers, *rows]:
            cells = [v + " " * (w - cell_len(v)) for v, w in zip(line, widths, strict=True)]
            print("  ".join(cells).rstrip())
        return

    table = Table(title=escape(title), box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h, col in zip(headers, columns, strict=True):
        if h in keep:
            table.add_column(h, no_wrap=True, min_width=max(map(cell_len, col)))
        else:
            table.add_column(h, overflow="fold")
    for r in rows:
        table.add_row(*map(escape, r))
    wide = console.options.update(max_width=1_000_000)
    if Measurement.get(console, wide, table).minimum <= console.width:
        console.print(table)
        return
    console.print(f"[bold]{escape(title)}[/]", highlight=False)
    for r in rows:
        if len(headers) == 2:  # key and value, one line each, unwrapped (a sha256 stays whole)
            line = f"[bold]{escape(r[0])}:[/] {escape(r[1])}"
            console.print(line, soft_wrap=True, highlight=False)
            continue
        console.print(escape(r[0]), soft_wrap=True, highlight=False, style="bold")
        pairs = zip(headers[1:], r[1:], strict=True)
        console.print("  " + " · ".join(f"{h} {escape(v)}" for h, v in pairs if v), highlight=False)


TasksDir = Annotated[
    list[Path] | None,
    typer.Option(
        "--tasks-dir", help="A folder of your own tasks (or one task folder); repeatable."
    ),
]
Sandbox = Annotated[
    str, typer.Option("--sandbox", help="bwrap (default: isolated) or local (NO isolation).")
]
PublicSeeds = Annotated[
    bool,
    typer.Option(
        "--public-seeds",
        help="Make test sets and test-time seeds from the task's public seed, as published, "
        "instead of this installation's secret key: exactly reproducible numbers for published "
        "comparisons, but an agent could regenerate the test set (not a trustworthy score).",
    ),
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
    """An open gym and benchmark for AI research agents: sandboxed ML research tasks, graders
    the agent cannot touch, a Gymnasium environment and a harness that records every step.

    Examples:

      rgym tasks                                   # the task catalogue

      rgym run titanic                             # replay a task's demonstration, scored

      rgym run titanic --model openai/gpt-4o --max-cost 2    # an LLM research agent

      rgym run battle-of-sexes --actions <MLGym run folder>   # replay an MLGym trajectory

      rgym report runs/ MLGym/trajectories/        # leaderboard over rgym and MLGym runs

      rgym verify titanic                          # check a task's graders end to end

    Listing commands take --json; output to a pipe is plain text, never cut.
    """
    # In a pipe or a file, lines are not wrapped at a made-up width: paths and ids stay whole.
    console.soft_wrap = not console.is_terminal
    err.soft_wrap = not err.is_terminal


def _fail(e: Exception) -> None:
    err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
    raise typer.Exit(2)


@app.command("tasks")
def tasks_cmd(
    tasks_dir: TasksDir = None,
    as_json: JsonFlag = False,
):
    """List the tasks: id, family, variants, metric and its direction, baseline and reference
    scores (the published numbers in each task.yaml).

    Examples:

      rgym tasks

      rgym tasks --json | jq -r '.[].id'

      rgym tasks --tasks-dir ./my-tasks
    """
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
    _show_table(
        f"{len(rows)} tasks",
        ["id", "family", "variants", "metric", "dir", "baseline", "reference"],
        [
            [
                r["id"],
                r["family"],
                ("," if not console.is_terminal else ", ").join(r["variants"]),
                r["metric"],
                r["direction"],
                _fmt(r["baseline"]),
                _fmt(r["reference"]),
            ]
            for r in rows
        ],
        keep=("id",),
    )


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
            help="replay: a YAML/JSON list of actions, an earlier run's folder, or an MLGym "
            "trajectory (<task>.traj or its run folder).",
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
    max_disk: Annotated[
        int | None,
        typer.Option(
            help="Disk limit in MB for the workspace, /tmp and /dev/shm together (default: the "
            "task's resources.disk_mb); past it writes fail with 'No space left on device'.",
            rich_help_panel="Budgets",
            min=16,
        ),
    ] = None,
    variant: Annotated[str, typer.Option(help="Task variant.")] = "default",
    seed: int = 0,
    sandbox: Sandbox = "bwrap",
    public_seeds: PublicSeeds = False,
    runs_dir: Annotated[Path, typer.Option(help="Where run records go.")] = Path("runs"),
    tasks_dir: TasksDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress.")] = False,
):
    """Run an agent on a task in a sandbox and score it.

    Examples:

      rgym run titanic                      # replay the task's demonstration (no API key)

      rgym run titanic --model anthropic/claude-sonnet-4-5 --max-cost 2

      rgym run blotto --model my-model --api-base http://127.0.0.1:8000/v1

      rgym run battle-of-sexes --actions actions.yaml      # replay your own actions

      rgym run battle-of-sexes --actions MLGym/trajectories/mlgym_bench_v0/<run folder>

    --actions takes a YAML/JSON list of shell commands, an earlier rgym run's folder, or an
    MLGym trajectory (<task>.traj or its run folder): its actions are replayed in order, with
    MLGym's validate/submit and edit blocks mapped onto rgym's and a note for every step
    changed or left out; the budgets grow to fit it unless you set them.
    """
    from rgym.budget import Budget
    from rgym.runs.runner import RunConfig, run

    agent = agent or ("default" if model else "replay")
    mlgym = None
    if agent == "replay" and actions is not None:
        mlgym, max_steps, max_validations = _mlgym_replay(
            actions, task, variant, tasks_dir, max_steps, max_validations
        )
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
        seed_mode="public" if public_seeds else "secret",
        max_disk_mb=max_disk,
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

        err.print(f"[bold yellow]WARNING[/] {escape(WARNING)}")

    def on_start(env, record):
        if not quiet:
            console.print(
                f"[bold]rgym run[/] {escape(env.spec_.id)} ({escape(env.variant_name)}) · agent "
                f"{escape(config.agent)} · sandbox {env.backend.name}"
                f"{'' if env.backend.isolated else ' [red](NO ISOLATION)[/]'} · "
                f"limits {escape(str(env.sandbox.limits_in_force))}",
                highlight=False,
            )
            console.print(f"run record: {escape(str(record.root))}", soft_wrap=True)

    def on_step(step, action, obs, info):
        if quiet:
            return
        first = action.strip().splitlines()[0] if action.strip() else ""
        more = " …" if len(action.strip().splitlines()) > 1 else ""
        lines = [ln for ln in obs.strip().splitlines() if ln.strip()]
        code = lines.pop() if len(lines) > 1 and EXIT_LINE.match(lines[-1]) else ""
        if code:  # a refusal: its first line says why
            short = f"{lines[0][:100]} {code}"
        else:
            short = (lines[-1] if lines else "")[:110]
        console.print(
            f"[cyan]step {step:>3}[/] [bold]$ {escape(first[:80])}{more}[/]", highlight=False
        )
        if short:
            console.print(f"         [dim]{escape(short)}[/]", highlight=False)

    try:
        result = run(
            config,
            on_step=on_step,
            on_start=on_start,
            on_progress=None if quiet else lambda m: console.print(f"[dim]{escape(m)}…[/]"),
        )
    except RgymError as e:
        _fail(e)
    _summary(result)
    if mlgym is not None:
        _compare_with_mlgym(mlgym, result)
    if result.exit_status in ("infra_error", "agent_error"):
        raise typer.Exit(1)


def _mlgym_replay(actions, task, variant, tasks_dir, max_steps, max_validations):
    """For an MLGym trajectory: say what was converted, warn about a task mismatch, and grow
    the step and validation budgets the user left unset to fit it."""
    from rgym.runs.mlgym_traj import is_mlgym_source, read_trajectory, restorable, same_task
    from rgym.tasks.registry import get_task

    if not is_mlgym_source(actions):
        return None, max_steps, max_validations
    try:
        traj = read_trajectory(actions)
        spec = get_task(task, tasks_dir)
    except RgymError as e:
        _fail(e)
    err.print(escape(traj.summary()), highlight=False, soft_wrap=True)
    if traj.task_id and not same_task(spec.id, traj.task_id):
        err.print(
            f"[yellow]warning[/] the trajectory is of MLGym's {escape(traj.task_id)}, "
            f"replayed here on {escape(spec.id)}",
            highlight=False,
        )
    limits = spec.variant(variant).limits
    n = sum("action" in a for a in traj.actions) + bool(restorable(traj.views))
    grown = []
    if max_steps is None and n > limits.max_steps:
        max_steps = n
        grown.append(f"--max-steps {n} (the task's: {limits.max_steps})")
    if max_validations is None and traj.validations > limits.max_validations:
        max_validations = traj.validations
        grown.append(f"--max-validations {max_validations} (the task's: {limits.max_validations})")
    if grown:
        err.print(f"budgets grown to fit the trajectory: {'; '.join(grown)}", highlight=False)
    return traj, max_steps, max_validations


def _compare_with_mlgym(traj, r) -> None:
    """The replay's scores beside the ones MLGym recorded for the same actions."""
    if not traj.metric:
        return

    def f(x: float | None) -> str:
        return "—" if x is None else f"{x:.4f}"

    console.print(
        f"MLGym recorded {escape(traj.metric)}: last {f(traj.last)}, best {f(traj.best)} "
        f"(MLGym's validate scores the test set) · this replay: test {f(r.test_score)}, "
        f"best dev {f(r.best_dev_score)}",
        highlight=False,
    )


def _summary(r) -> None:
    ok = r.exit_status.startswith(("submitted", "auto_submitted"))
    ended = f" (ended by {r.ended_by})" if r.ended_by not in (None, "submit") else ""
    sandbox = r.sandbox + (
        "  (NO ISOLATION: not a trustworthy score)" if r.sandbox == "local" else ""
    )
    tot = r.totals
    rows = [
        ("exit status", r.exit_status + ended),
        ("sandbox", sandbox),
        *([("message", r.message[:300])] if r.message else []),
        ("dev scores", ", ".join(f"{s:.4f}" for s in r.dev_scores) or "—"),
        (f"test {r.metric} ({r.direction})", _fmt(r.test_score)),
        ("baseline", _fmt(r.baseline_score)),
        ("reference", _fmt(r.reference_score)),
        ("normalised score", _fmt(r.normalised_score) + "  (0 = baseline, 1 = reference)"),
        (
            "spent",
            f"{tot.steps} steps · {tot.validations} validations · {tot.model_calls} "
            f"model calls · {tot.prompt_tokens + tot.completion_tokens} tokens · "
            f"${tot.cost_usd:.4f} · {tot.wall_seconds:.1f} s",
        ),
    ]
    if not console.is_terminal:  # a pipe or a file: plain lines, nothing cut
        for k, v in rows:
            print(f"{k}: {v}")
        print(f"run record: {r.run_dir}")
        return
    t = Table(show_header=False, title="result", title_justify="left")
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    for k, v in rows:
        style = ("green" if ok else "red") if k == "exit status" else None
        if k == "sandbox" and r.sandbox == "local":
            style = "bold red"
        t.add_row(escape(k), f"[{style}]{escape(v)}[/]" if style else escape(v))
    console.print(t)
    # on its own line, never wrapped: the terminal shows it whole, and it copies whole
    console.print(f"[bold]run record[/] {escape(str(r.run_dir))}", soft_wrap=True, highlight=False)


@data_app.command("prepare")
def data_prepare(
    tasks: Annotated[list[str] | None, typer.Argument(help="Task ids; default: all.")] = None,
    variant: str = "default",
    force: Annotated[bool, typer.Option(help="Rebuild even if cached.")] = False,
    measure: Annotated[
        bool,
        typer.Option(
            help="Also score the baseline and reference on the prepared test set (what episodes "
            "normalise with), so the first episode need not. For a training task this trains both: "
            "a few minutes on 2 cores; --no-measure skips it."
        ),
    ] = True,
    public_seeds: PublicSeeds = False,
    sandbox: Sandbox = "bwrap",
    tasks_dir: TasksDir = None,
):
    """Prepare task data ahead of time (a run prepares on first use): fetch or generate it,
    split it, record checksums and licence.

    Examples:

      rgym data prepare                 # every task

      rgym data prepare titanic house-price --force
    """
    from rgym.tasks.baselines import measured_scores
    from rgym.tasks.data import prepare_data
    from rgym.tasks.verify import default_tasks

    mode = "public" if public_seeds else "secret"
    try:
        specs = default_tasks(tasks, tasks_dir)
        for spec in specs:
            if variant not in spec.variants:
                continue
            with console.status(f"preparing {spec.id} ({variant})…"):
                d = prepare_data(spec, variant, force=force, seed_mode=mode)
            n = len(d.info.get("public", {})) + len(d.info.get("private", {}))
            console.print(
                f"[green]✓[/] {escape(spec.id):<22} {n} files  {escape(str(d.public.parent))}  "
                f"[dim]{escape(str(d.info.get('licence', '')))}[/]",
                highlight=False,
            )
            if measure:
                m = measured_scores(
                    spec,
                    variant,
                    d,
                    sandbox=sandbox,
                    force=force,
                    progress=lambda msg: console.print(f"  [dim]{msg}…[/]", highlight=False),
                )
                how = "cached" if m.cached else f"measured in {m.seconds:.1f} s"
                console.print(
                    f"  baseline {_fmt(m.baseline)} · reference {_fmt(m.reference)} "
                    f"[dim]({m.source}; {how})[/]",
                    highlight=False,
                )
                for note in m.notes:
                    note = escape(f"{spec.id}: {note}")
                    err.print(f"  [yellow]note[/] {note}", highlight=False)
    except RgymError as e:
        _fail(e)


@data_app.command("info")
def data_info(
    task: str, variant: str = "default", tasks_dir: TasksDir = None, as_json: JsonFlag = False
):
    """Show where a task's data comes from, its licence and the sha256 of every file (the
    agent's public files and the grader's private ones). Prepares the data if needed.

    Examples:

      rgym data info titanic

      rgym data info titanic --json | jq .licence
    """
    from rgym.tasks.data import prepare_data
    from rgym.tasks.registry import get_task

    try:
        d = prepare_data(get_task(task, tasks_dir), variant)
    except RgymError as e:
        _fail(e)
    if as_json:
        print(json.dumps(d.info, indent=1))
        return
    rows = []
    for key, value in d.info.items():
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            rows += [[f"{key}/{name}", sha] for name, sha in value.items()]
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            rows.append([key, text])
    _show_table(f"{task} ({variant}) data", ["key", "value"], rows, keep=("key",))


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


@app.command("verify")
def verify_cmd(
    tasks: Annotated[list[str] | None, typer.Argument(help="Task ids; default: all.")] = None,
    variant: str = "default",
    sandbox: Sandbox = "bwrap",
    public_seeds: PublicSeeds = False,
    tasks_dir: TasksDir = None,
    as_json: JsonFlag = False,
):
    """Health check: run each task's baseline and reference through the real graders and
    check that the reference beats the baseline. Exits 1 when a task fails.

    With --public-seeds it also checks that each baseline reproduces task.yaml's number.
    A training task trains both its solutions (up to 5 minutes on 2 cores), so every task
    together takes about 40 minutes.

    Examples:

      rgym verify                       # every task, about 40 minutes

      rgym verify titanic blotto --json
    """
    from rgym.tasks.verify import default_tasks, verify_task

    try:
        specs = [s for s in default_tasks(tasks, tasks_dir) if variant in s.variants]
    except RgymError as e:
        _fail(e)
    results: list[dict] = []
    failed = []
    for spec in specs:
        with console.status(f"verifying {spec.id}…"):
            try:
                row = verify_task(
                    spec, variant, sandbox, seed_mode="public" if public_seeds else "secret"
                )
            except RgymError as e:
                failed.append(f"{spec.id}: {e}")
                continue
        results.append(
            {
                "task": spec.id,
                "metric": spec.metric.name,
                "direction": str(spec.metric.direction),
                "baseline": row.baseline.score if row.baseline else None,
                "reference": row.reference.score if row.reference else None,
                "normalised_reference": row.normalised_reference,
                "seconds": round(row.seconds, 3),
                "seconds_by_part": {
                    "data": _round(row.data_seconds),
                    "baseline": _round(row.baseline and row.baseline.seconds),
                    "baseline_grading": _round(row.baseline and row.baseline.grade_seconds),
                    "reference": _round(row.reference and row.reference.seconds),
                    "reference_grading": _round(row.reference and row.reference.grade_seconds),
                },
                "ok": row.ok,
                "problems": list(row.problems),
            }
        )
        failed += [f"{spec.id}: {p}" for p in row.problems]
    if as_json:
        print(json.dumps({"variant": variant, "tasks": results, "failed": failed}, indent=1))
    else:
        _show_table(
            f"rgym verify ({variant})",
            ["task", "metric", "baseline", "reference", "normalised ref.", "seconds", "ok"],
            [
                [
                    x["task"],
                    f"{x['metric']} ({x['direction']})",
                    _fmt(x["baseline"]),
                    _fmt(x["reference"]),
                    _fmt(x["normalised_reference"]),
                    f"{x['seconds']:.1f}",
                    "yes" if x["ok"] else "NO",
                ]
                for x in results
            ],
            keep=("task",),
        )
    if failed:
        for f in failed:
            err.print(f"[red]✗[/] {escape(f)}", highlight=False)
        raise typer.Exit(1)


@app.command("report")
def report_cmd(
    runs_dirs: Annotated[list[Path], typer.Argument(help="Folders of rgym and/or MLGym runs.")],
    fmt: Annotated[str, typer.Option("--format", help="md, csv or json.")] = "md",
    out: Annotated[Path | None, typer.Option(help="Write tables and plots here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    include_unisolated: Annotated[
        bool,
        typer.Option(
            "--include-unisolated",
            help="Also report runs made with --sandbox local (left out by default: nothing "
            "stopped their agent from reading the answers).",
        ),
    ] = False,
):
    """Leaderboard tables over rgym and MLGym runs.

    Run folders are found recursively (symlinked folders followed). The tables: MLGym's Best
    Attempt@k / Best Submission@k scores, ranks, performance profiles and AUP (computed as
    MLGym computes them), plus normalised scores with bootstrap CIs, success rates and costs.
    Runs of one task under MLGym's and rgym's ids (battleOfSexes, battle-of-sexes) are reported
    as one task when they score the same metric.

    Examples:

      rgym report runs/

      rgym report runs/ MLGym/trajectories/mlgym_bench_v0 --format csv > board.csv

      rgym report runs/ --json | jq '.tables.aup'

      rgym report runs/ --out report/          # tables and plots as files
    """
    from rgym.metrics.cli import report_command

    raise typer.Exit(
        report_command(
            runs_dirs,
            fmt="json" if as_json else fmt,
            out=out,
            include_unisolated=include_unisolated,
        )
    )


# commands that live in their own package (each module imports only typer at load time)
from rgym.batch.cli import batch_cmd  # noqa: E402
from rgym.export.cli import export_app  # noqa: E402
from rgym.serve.cli import serve_cmd  # noqa: E402
from rgym.viewer.cli import view_cmd  # noqa: E402

app.command("batch")(batch_cmd)
app.command("view")(view_cmd)
app.command("serve")(serve_cmd)
app.add_typer(export_app, name="export")


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except RgymError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
