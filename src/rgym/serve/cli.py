"""`rgym serve` as a typer command function; cli.py registers it. (Being written.)"""

from __future__ import annotations

import typer


def serve_cmd() -> None:
    """Serve rgym environments over HTTP (being written)."""
    raise typer.Exit(2)
