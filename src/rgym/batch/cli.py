"""`rgym batch` as a typer command function; cli.py registers it. (Being written.)"""

from __future__ import annotations

import typer


def batch_cmd() -> None:
    """Run a matrix of tasks × agents × seeds (being written)."""
    raise typer.Exit(2)
