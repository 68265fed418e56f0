"""Write a :class:`Report` to a directory: tables in one format, plots as PNG and SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rgym.metrics.plots import write_plots
from rgym.metrics.render import render_json, render_markdown, table_csv
from rgym.metrics.report import Report

Format = Literal["md", "csv", "json"]
FORMATS: tuple[str, ...] = ("md", "csv", "json")
DEFAULT_OUT = Path("rgym-report")


def write_report(
    report: Report, out_dir: Path | None, fmt: Format = "md", *, plots: bool = True
) -> list[Path]:
    """Write the report's tables (``report.md``, one CSV per table, or ``report.json``) and plots.

    ``out_dir`` of ``None`` means ``./rgym-report``, so a report always lands somewhere the
    user can find it. Returns every path written, tables first.

    Raises:
        ValueError: ``fmt`` is not md, csv or json.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out_dir) if out_dir is not None else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    images = write_plots(report, out) if plots else []
    written: list[Path] = []
    if fmt == "md":
        path = out / "report.md"
        pngs = [p.name for p in images if p.suffix == ".png"]
        path.write_text(render_markdown(report, images=pngs), encoding="utf-8")
        written.append(path)
    elif fmt == "json":
        path = out / "report.json"
        path.write_text(render_json(report), encoding="utf-8")
        written.append(path)
    else:
        for name, frame in report.tables().items():
            path = out / f"{name}.csv"
            path.write_text(table_csv(frame), encoding="utf-8")
            written.append(path)
        if report.warnings or report.notes:
            path = out / "notes.txt"
            lines = [f"note: {n}" for n in report.notes] + [
                f"warning: {w}" for w in report.warnings
            ]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            written.append(path)
    return written + images
