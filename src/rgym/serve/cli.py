"""`rgym serve` as a typer command function; cli.py registers it.

Only typer, pathlib and typing are imported at load time (`rgym --help` stays fast); the web
stack and openenv-core are imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def serve_cmd(
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. The default is loopback only; any other address needs "
            "--token."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)
    ] = 8000,
    max_episodes: Annotated[
        int,
        typer.Option(
            help="Episodes live at once, one sandbox each; past it a new one is refused (HTTP "
            "503, or CAPACITY_REACHED on a WebSocket).",
            min=1,
            max=4096,
        ),
    ] = 16,
    idle_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds an episode may go without a request before it and its sandbox are "
            "closed (a running step is never idle).",
            min=0.01,
        ),
    ] = 600.0,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="RGYM_SERVE_TOKEN",
            help="Every request must carry it (Authorization: Bearer <token>; a WebSocket may "
            "use ?token=). Required off loopback. At least 16 characters.",
            show_envvar=True,
        ),
    ] = None,
    task: Annotated[
        list[str] | None,
        typer.Option("--task", help="Serve only this task (repeatable); default: every task."),
    ] = None,
    shaping: Annotated[
        bool,
        typer.Option(
            "--shaping",
            help="Pay dev-score improvements on `validate` as reward (as "
            "ResearchEnv(shaping=True)).",
        ),
    ] = False,
    tasks_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--tasks-dir", help="A folder of your own tasks (or one task folder); repeatable."
        ),
    ] = None,
) -> None:
    """Serve rgym's tasks as OpenEnv environments over HTTP and WebSocket, for trainers that
    step environments from another process or machine.

    Each client session is one episode in its own sandbox: the client picks the task and
    variant at reset, then steps it with text actions (a shell command, `validate`, `submit`);
    the final step's reward is the normalised test score, as in-process. OpenEnv's clients
    connect to /ws; the same episodes are at /episodes over plain HTTP.

    Examples:

      rgym serve                                   # http://127.0.0.1:8000, every task

      rgym serve --task battle-of-sexes --task titanic --max-episodes 32

      RGYM_SERVE_TOKEN=$(openssl rand -hex 24) rgym serve --host 0.0.0.0

    From Python: rgym.serve.client.RemoteEnv("http://127.0.0.1:8000", "titanic") is a
    Gymnasium env. See docs/serve.md.
    """
    from rich.console import Console
    from rich.markup import escape

    from rgym.errors import RgymError

    out, err = Console(), Console(stderr=True)

    def fail(message: str) -> None:
        err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)

    try:
        from rgym.serve.config import ServeConfig

        config = ServeConfig(
            host=host,
            port=port,
            max_episodes=max_episodes,
            idle_timeout=idle_timeout,
            token=token or None,
            tasks=task or [],
            shaping=shaping,
            tasks_dirs=tasks_dir or [],
        )
    except RgymError as e:
        fail(str(e))
    try:
        from rgym.serve.server import serve
    except ImportError as e:
        fail(f"rgym serve needs openenv-core ({e.name} is missing): pip install 'rgym[serve]'")

    def ready(running) -> None:
        tasks = ", ".join(sorted(running.manager.catalog.tasks))
        out.print(
            f"rgym serve: [bold]{running.url}[/] (OpenEnv WebSocket {running.ws_url}/ws) · "
            f"tasks {escape(tasks)} · up to {config.max_episodes} episodes · idle timeout "
            f"{config.idle_timeout:g} s · "
            f"{'token required' if config.token else 'no token (loopback only)'}"
            f"{' · shaping' if config.shaping else ''} (Ctrl-C stops)",
            highlight=False,
            soft_wrap=True,
        )

    try:
        serve(config, on_ready=ready)
    except RgymError as e:
        fail(str(e))
    except KeyboardInterrupt:
        pass
