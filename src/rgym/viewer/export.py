"""`rgym view --export DIR`: the same pages as static files that open from ``file://``.

Layout: ``index.html`` (runs), ``leaderboard.html``, ``run/<id>.html`` (``run/<id>.p2.html``
... for long runs), assets under ``assets/`` (plotly.js included), and the data as JSON beside
them: ``runs.json``, ``run/<id>.json`` and ``leaderboard.json`` (exactly `rgym report --json`).
Links are relative; nothing is fetched, so the bundle works offline and from any folder.
Compare pages need a server (one per pair of runs) and raw files are not copied.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rgym.errors import RgymError
from rgym.viewer.app import run_record, static_files
from rgym.viewer.links import Links
from rgym.viewer.site import Site

MARKER = "rgym-view-export.json"
"""Written into every bundle: an existing folder is only written over if it holds this."""


class ExportRefused(RgymError):
    """The export folder exists and is not an earlier export (nothing is overwritten)."""


@dataclass
class ExportResult:
    out: Path
    runs: int
    pages: int
    files: int


def _check_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise ExportRefused(
            f"{out} exists and is not an earlier `rgym view --export` bundle; give a new or "
            "empty folder (nothing is overwritten)"
        )


def export(site: Site, out: Path, progress: Callable[[str], None] | None = None) -> ExportResult:
    """Write the bundle for every run ``site`` serves into ``out``.

    Raises:
        ExportRefused: ``out`` is a file, or a non-empty folder that is not an earlier bundle.
    """
    out = Path(out)
    _check_target(out)
    (out / "run").mkdir(parents=True, exist_ok=True)
    (out / "assets").mkdir(exist_ok=True)
    files = 0

    def write(rel: str, text: str | bytes) -> None:
        nonlocal files
        path = out / rel
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        files += 1

    for name, (data, _) in static_files().items():
        write(f"assets/{name}", data)
    root, below = Links(static=True), Links(static=True, depth=1)
    write("index.html", site.runs_page(root))
    board, _ = site.leaderboard()
    write("leaderboard.html", site.leaderboard_page(root))
    if not board.error:
        write("leaderboard.json", board.report_json)
    catalog = site.catalog()
    rows = site.rows(catalog)
    write("runs.json", json.dumps({"runs": [r.to_json() for r in rows]}, indent=1))
    pages = 2
    for i, ref in enumerate(catalog.runs.values(), 1):
        if progress is not None and i % 50 == 0:
            progress(f"{i}/{len(catalog.runs)} runs")
        page = 1
        while True:
            html = site.run_page(below, ref.id, page)
            if html is None:
                break
            write(f"run/{ref.id}{'' if page == 1 else f'.p{page}'}.html", html)
            pages += 1
            page += 1
        write(f"run/{ref.id}.json", json.dumps(run_record(site, ref), indent=1))
    write(MARKER, json.dumps({"runs": len(catalog.runs), "roots": [str(r) for r in site.roots]}))
    return ExportResult(out, len(catalog.runs), pages, files)
