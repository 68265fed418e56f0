"""`rgym export` as a typer app; cli.py registers it. (Being written.)"""

from __future__ import annotations

import typer

export_app = typer.Typer(help="Turn runs into training data (being written).", no_args_is_help=True)


@export_app.command("sft")
def sft_cmd() -> None:
    """Runs as chat examples (being written)."""
    raise typer.Exit(2)
