"""`rgym view` as a typer command function; cli.py registers it.

Only typer, pathlib and typing are imported at load time (`rgym --help` stays fast); the web
stack is imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"


def view_cmd(
    runs_dirs: Annotated[
        list[Path],
        typer.Argument(help="Folders of rgym runs, batches and/or MLGym runs (searched deeply)."),
    ],
    port: Annotated[
        int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)
    ] = DEFAULT_PORT,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. The default is loopback only; another address lets "
            "anyone who can reach it read every run shown (a warning is printed)."
        ),
    ] = DEFAULT_HOST,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Write a static bundle (HTML + JSON + assets) to this folder instead of "
            "serving; it opens from file:// with no server.",
        ),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the viewer in a web browser.")
    ] = False,
    include_unisolated: Annotated[
        bool,
        typer.Option(
            "--include-unisolated",
            help="Count runs made with --sandbox local in the leaderboard (as `rgym report`).",
        ),
    ] = False,
) -> None:
    """Browse runs, their trajectories and leaderboards in a web browser, live.

    Pages: every run in a table (filter, sort, search; batches grouped; runs in progress
    marked), each run step by step (discussion, action, observation, model calls, scores,
    budget, result, integrity, artefact) updating live while it runs, two runs compared with
    their artefacts' diff, and the leaderboard of `rgym report` with its plots.

    Examples:

      rgym view runs/                          # http://127.0.0.1:8765/

      rgym view runs/ MLGym/trajectories/ --port 9000 --open

      rgym view batches/sweep-1/ --no-open     # watch a batch while it runs

      rgym view runs/ --export site/           # static pages; open site/index.html
    """
    from rich.console import Console
    from rich.markup import escape

    from rgym.errors import RgymError

    out, err = Console(), Console(stderr=True)
    out.soft_wrap, err.soft_wrap = not out.is_terminal, not err.is_terminal  # paths stay whole

    def fail(message: str) -> None:
        err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        raise typer.Exit(2)

    for path in runs_dirs:
        if not path.is_dir():
            fail(f"runs folder {str(path)!r} does not exist or is not a folder")
    try:
        from rgym.viewer.site import Site
    except ImportError as e:
        fail(f"rgym view needs its web extras ({e.name} is missing): pip install 'rgym[view]'")
    site = Site(runs_dirs, include_unisolated=include_unisolated)
    catalog = site.catalog()
    n = len(catalog.counted())
    running = sum(r.status == "running" for r in site.rows())
    where = ", ".join(str(p) for p in runs_dirs)
    for warning in catalog.warnings:
        err.print(f"[yellow]warning[/] {escape(warning)}", highlight=False)

    if export is not None:
        from rgym.viewer.export import export as write_bundle

        try:
            result = write_bundle(site, export, progress=lambda m: err.print(m, highlight=False))
        except (RgymError, RuntimeError) as e:
            fail(str(e))
        index = (result.out / "index.html").resolve()
        out.print(
            f"rgym view: wrote {result.runs} runs ({result.pages} pages, {result.files} files) "
            f"to {escape(str(result.out))}; open {escape(index.as_uri())}",
            highlight=False,
            soft_wrap=True,
        )
        return

    from rgym.viewer.server import is_loopback, serve

    if not is_loopback(host):
        err.print(
            f"[bold yellow]WARNING[/] listening on {escape(host)}, not loopback: anyone who can "
            "reach this address can read every run shown (observations, artefacts, paths). "
            "There is no login.",
            highlight=False,
        )

    def ready(url: str) -> None:
        out.print(
            f"rgym view: {n} runs{f' ({running} running)' if running else ''} from "
            f"{escape(where)} at [bold]{url}[/] (Ctrl-C stops)",
            highlight=False,
            soft_wrap=True,
        )
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    try:
        serve(site, host, port, on_ready=ready)
    except (RgymError, RuntimeError) as e:
        fail(str(e))
    except KeyboardInterrupt:
        pass
