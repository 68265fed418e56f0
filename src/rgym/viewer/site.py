"""The viewer's pages as HTML strings: the one place that reads runs and fills templates.

The server (:mod:`rgym.viewer.app`) and the static export (:mod:`rgym.viewer.export`) both
call :class:`Site`; they differ only in the :class:`Links` they pass (URLs or relative file
names) and in whether live updates are wired. Templates are rendered with Jinja autoescape on,
so every run-supplied string reaches the page escaped.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from rgym.viewer.artifacts import diff_artifacts
from rgym.viewer.discovery import BatchRef, Catalog, RunRef, scan
from rgym.viewer.filters import RunFilter
from rgym.viewer.leaderboard import Leaderboard, build_leaderboard
from rgym.viewer.links import Links
from rgym.viewer.runview import RunView, run_view
from rgym.viewer.summaries import STATUS_CLASSES, RunSummary, SummaryCache
from rgym.viewer.transcript import STEPS_PER_PAGE, fmt_money, fmt_num, fmt_seconds, page_of

SCAN_TTL = 1.0
"""Seconds a folder walk is reused before the next page walks again."""
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'"
)
"""No inline script, nothing from elsewhere. plotly.js sets styles from script, which needs
inline styles; run content is never inserted as markup, so styles cannot come from it. Pages
carry it in a <meta> tag too, so a static export is held to it when opened from a file."""
CSP = f"{PAGE_CSP}; frame-ancestors 'none'"
"""The header the server sends (frame-ancestors works only as a header)."""


@dataclass
class Group:
    """Rows of the runs table under one heading: a batch, or a folder of loose runs."""

    key: str
    title: str
    rows: list[RunSummary] = field(default_factory=list)
    batch: BatchRef | None = None
    folder: str = ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.status_class] = out.get(r.status_class, 0) + 1
        return out


def group_rows(rows: list[RunSummary], catalog: Catalog) -> list[Group]:
    groups: dict[str, Group] = {}
    for row in rows:
        if row.batch is not None:
            batch = catalog.batches[row.batch]
            key, title, folder = f"batch:{batch.id}", f"batch {batch.name}", str(batch.path)
        else:
            folder = str(Path(row.path).parent)
            key, title = f"folder:{folder}", folder
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(key, title, folder=folder)
            group.batch = catalog.batches[row.batch] if row.batch is not None else None
        group.rows.append(row)
    return list(groups.values())


def fmt_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("rgym.viewer", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_num, money=fmt_money, seconds=fmt_seconds, size=fmt_size)
    env.globals.update(
        CSP=PAGE_CSP, STATUS_CLASSES=STATUS_CLASSES, STEPS_PER_PAGE=STEPS_PER_PAGE, page_of=page_of
    )
    return env


class Site:
    """What `rgym view` serves for a set of folders: caches walks, summaries, leaderboards."""

    def __init__(self, roots: list[Path], *, include_unisolated: bool = False) -> None:
        self.roots = [Path(r) for r in roots]
        self.include_unisolated = include_unisolated
        self.env = _environment()
        self.summaries = SummaryCache()
        self._catalog: Catalog | None = None
        self._scanned = 0.0
        self._lock = threading.Lock()
        self._boards: dict[tuple, Leaderboard] = {}
        self._runs_html: tuple[tuple, list[RunSummary], str] | None = None

    # --- data --------------------------------------------------------------------------------

    def catalog(self, fresh: bool = False) -> Catalog:
        with self._lock:
            if fresh or self._catalog is None or time.monotonic() - self._scanned > SCAN_TTL:
                self._catalog = scan(self.roots)
                self._scanned = time.monotonic()
            return self._catalog

    def find(self, run_id: str) -> RunRef | None:
        """The run of an id; a miss walks again (the run may have just started)."""
        ref = self.catalog().get(run_id)
        return ref if ref is not None else self.catalog(fresh=True).get(run_id)

    def rows(self, catalog: Catalog | None = None) -> list[RunSummary]:
        """The runs table's rows, of ``catalog`` (default: the current walk)."""
        return self.summaries.rows(catalog or self.catalog())

    def signature(self, rows: list[RunSummary] | None = None) -> str:
        """Changes when a run appears, advances or finishes (for the runs page's notice)."""
        parts = [(r.id, r.status, r.steps, r.exit_status) for r in rows or self.rows()]
        return hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()[:16]

    def leaderboard(self, flt: RunFilter | None = None) -> tuple[Leaderboard, list[RunSummary]]:
        """The leaderboard of the finished runs a filter selects (all of them without one)."""
        catalog = self.catalog()
        rows = (flt or RunFilter()).select(self.rows(catalog))
        chosen = [r for r in rows if r.status == "finished" and r.id is not None]
        dirs = [catalog.runs[r.id].path for r in chosen if r.id in catalog.runs]
        key = (
            tuple((r.path, r.exit_status, r.test_score, r.dev_best) for r in chosen),
            self.include_unisolated,
        )
        board = self._boards.get(key)
        if board is None:
            board = build_leaderboard(dirs, include_unisolated=self.include_unisolated)
            self._boards = {key: board, **dict(list(self._boards.items())[:7])}
        return board, chosen

    def run_view(self, ref: RunRef, page: int = 1) -> RunView:
        return run_view(ref, self.summaries.get(ref), page)

    # --- pages -------------------------------------------------------------------------------

    def render(self, template: str, links: Links, **context: Any) -> str:
        return self.env.get_template(template).render(links=links, **context)

    def runs_page(self, links: Links, flt: RunFilter | None = None) -> str:
        """The runs table; rendered again only when a row or a batch changed (a summary is a
        new object exactly when its run changed), so reloading a large table is cheap."""
        catalog = self.catalog()
        rows = self.rows(catalog)
        batches = [
            (b.id, b.name, len(b.cells), str(b.planned), str(b.stopped), b.problem)
            for b in catalog.batches.values()
        ]
        key = (
            links.static,
            flt,
            tuple(id(r) if r.id is not None else (r.batch, r.cell) for r in rows),
            tuple(r.stale for r in rows),
            tuple(batches),
            tuple(catalog.warnings),
        )
        if self._runs_html is not None and self._runs_html[0] == key:
            return self._runs_html[2]
        html = self._render_runs(links, flt, catalog, rows)
        self._runs_html = (key, rows, html)  # the rows are kept: their ids stay theirs
        return html

    def _render_runs(
        self, links: Links, flt: RunFilter | None, catalog: Catalog, rows: list[RunSummary]
    ) -> str:
        methods = sorted({r.method for r in rows})
        tasks = sorted({r.task for r in rows if r.task})
        return self.render(
            "runs.html",
            links,
            title="Runs",
            groups=group_rows(rows, catalog),
            n_rows=len(rows),
            n_running=sum(r.status == "running" for r in rows),
            tasks=tasks,
            methods=methods,
            flt=flt or RunFilter(),
            roots=[str(r) for r in self.roots],
            warnings=catalog.warnings,
            signature=self.signature(rows) if not links.static else "",
        )

    def run_page(self, links: Links, run_id: str, page: int = 1) -> str | None:
        """None when the id or page is unknown (the server answers 404)."""
        ref = self.find(run_id)
        if ref is None or page < 1:
            return None
        view = self.run_view(ref, page)
        if page > view.transcript.pages:
            return None
        catalog = self.catalog()
        attempts = [(a, self.summaries.get(a)) for a in catalog.attempts.get(ref.id, [])]
        batch = catalog.batches.get(ref.batch) if ref.batch else None
        return self.render(
            "run.html",
            links,
            title=f"{view.summary.task or ref.id} · {ref.id}",
            v=view,
            s=view.summary,
            t=view.transcript,
            attempts=attempts,
            batch=batch,
            parent=catalog.get(ref.attempt_of) if ref.attempt_of else None,
        )

    def compare_page(self, links: Links, a: str, b: str) -> str | None:
        ref_a, ref_b = self.find(a), self.find(b)
        if ref_a is None or ref_b is None:
            return None
        va, vb = self.run_view(ref_a), self.run_view(ref_b)
        from rgym.viewer.compare import compare_figure, side_by_side

        return self.render(
            "compare.html",
            links,
            title=f"Compare {ref_a.id} and {ref_b.id}",
            a=va,
            b=vb,
            facts=side_by_side(va, vb),
            chart=compare_figure(va, vb),
            diffs=diff_artifacts(ref_a.path, ref_b.path),
        )

    def leaderboard_page(self, links: Links, flt: RunFilter | None = None) -> str:
        flt = flt or RunFilter()
        board, chosen = self.leaderboard(flt)
        return self.render(
            "leaderboard.html",
            links,
            title="Leaderboard",
            board=board,
            flt=flt,
            n_chosen=len(chosen),
            include_unisolated=self.include_unisolated,
        )

    def not_found_page(self, links: Links, what: str) -> str:
        return self.render("not_found.html", links, title="Not found", what=what)
