"""Where each page lives: absolute URLs on the server, relative file names in a static export.

Templates build every link through :class:`Links`, so one template serves both: the export is
opened from ``file://`` and must never link to ``/``. Run ids are made URL- and file-name-safe
by :mod:`rgym.viewer.discovery`; artefact paths are quoted here.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode


class Links:
    """Links from a page ``depth`` folders below the site's root (0: the root pages)."""

    def __init__(self, static: bool = False, depth: int = 0) -> None:
        self.static = static
        self.prefix = "../" * depth if static else "/"

    def home(self, params: dict[str, str] | None = None) -> str:
        if self.static:
            return f"{self.prefix}index.html"
        return "/" + (f"?{urlencode(params)}" if params else "")

    def run(self, run_id: str, page: int = 1) -> str:
        if self.static:
            return f"{self.prefix}run/{run_id}{'' if page == 1 else f'.p{page}'}.html"
        return f"/run/{quote(run_id)}" + ("" if page == 1 else f"?page={page}")

    def leaderboard(self, params: dict[str, str] | None = None) -> str:
        if self.static:
            return f"{self.prefix}leaderboard.html"
        return "/leaderboard" + (f"?{urlencode(params)}" if params else "")

    def leaderboard_json(self, params: dict[str, str] | None = None) -> str:
        if self.static:
            return f"{self.prefix}leaderboard.json"
        return "/api/leaderboard.json" + (f"?{urlencode(params)}" if params else "")

    def runs_json(self) -> str:
        return f"{self.prefix}runs.json" if self.static else "/api/runs.json"

    def run_json(self, run_id: str) -> str:
        return (
            f"{self.prefix}run/{run_id}.json" if self.static else f"/api/run/{quote(run_id)}.json"
        )

    def compare(self, a: str, b: str) -> str | None:
        """No compare pages in an export (there is one per pair of runs)."""
        return None if self.static else f"/compare?{urlencode({'a': a, 'b': b})}"

    def raw(self, run_id: str, rel: str) -> str | None:
        """A run's file as plain text (the server only: an export copies no raw files)."""
        return None if self.static else f"/run/{quote(run_id)}/raw/{quote(rel)}"

    def asset(self, name: str) -> str:
        return f"{self.prefix}assets/{name}" if self.static else f"/static/{name}"

    def live_run(self, run_id: str, after: int) -> str | None:
        return None if self.static else f"/live/run/{quote(run_id)}?after={after}"

    def live_runs(self) -> str | None:
        return None if self.static else "/live/runs"
