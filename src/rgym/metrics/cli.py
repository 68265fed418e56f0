"""``rgym report``: the command behind the CLI, as a plain function the typer app wraps.

Kept free of typer so it can be tested by calling it, and so the lead's CLI module owns option
parsing while this module owns behaviour and exit codes (0 ok, 2 bad input or no runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rgym.metrics.render import render_csv, render_json, render_markdown
from rgym.metrics.report import build_report
from rgym.metrics.runs import NoRunsFound, RunsPathNotFound
from rgym.metrics.write import FORMATS, write_report

EXIT_OK = 0
EXIT_USAGE = 2


def report_command(
    paths: list[Path],
    fmt: str = "md",
    out: Path | None = None,
    console: Any = None,
    *,
    include_unisolated: bool = False,
) -> int:
    """Build a report from run directories; print it, or write it under ``out`` and list files.

    ``console`` is a ``rich.console.Console`` (default: stdout, with errors on stderr). Report
    text goes out raw (no Rich markup or highlighting), so it can be piped or redirected.

    Returns:
        0 on success; 2 when a path does not exist, no runs are found, or ``fmt`` is unknown.
    """
    from rich.console import Console

    stdout = console if console is not None else Console(soft_wrap=True)
    stderr = console if console is not None else Console(stderr=True, soft_wrap=True)

    def error(message: str) -> None:
        stderr.print(f"error: {message}", style="bold red", markup=False, highlight=False)

    if fmt not in FORMATS:
        error(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return EXIT_USAGE
    if not paths:
        error("give at least one runs directory")
        return EXIT_USAGE
    try:
        report = build_report(paths, include_unisolated=include_unisolated)
    except (RunsPathNotFound, NoRunsFound) as exc:
        error(str(exc))
        return EXIT_USAGE

    if out is None:
        renderers = {"md": render_markdown, "csv": render_csv, "json": render_json}
        stdout.out(renderers[fmt](report), highlight=False)
        if fmt == "csv":
            for warning in report.warnings:
                stderr.print(f"warning: {warning}", markup=False, highlight=False)
        return EXIT_OK

    written = write_report(report, out, fmt)  # type: ignore[arg-type]
    for warning in report.warnings:
        stderr.print(f"warning: {warning}", markup=False, highlight=False)
    stdout.out(f"wrote {len(written)} files to {out}:", highlight=False)
    for path in written:
        stdout.out(str(path), highlight=False)
    return EXIT_OK
