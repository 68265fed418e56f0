"""`rgym view` as a typer command function; cli.py registers it. (Being written.)"""

from __future__ import annotations

import typer


def view_cmd() -> None:
    """Open runs in the browser (being written)."""
    raise typer.Exit(2)
