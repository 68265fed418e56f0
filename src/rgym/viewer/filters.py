"""Which runs a filter selects: the runs page filters in the browser (static/runs.js), and the
leaderboard of "the runs shown" filters here, so both must read a filter the same way.

A filter is a search text plus exact choices of task, model and status. The text is split on
spaces; every word must appear in the run's search text (task, variant, agent, model, exit
status, status, batch, cell, ``s<seed>``, id), case-insensitively. ``field:value`` words match
one field instead (task, variant, agent, model, status, exit, batch, seed), by substring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rgym.viewer.summaries import RunSummary

FIELDS = {
    "task": "task",
    "variant": "variant",
    "agent": "agent",
    "model": "method",
    "status": "status",
    "exit": "exit_status",
    "batch": "batch_name",
    "seed": "seed",
}


@dataclass(frozen=True)
class RunFilter:
    q: str = ""
    task: str = ""
    model: str = ""
    status: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> RunFilter:
        """From a page's query parameters (Starlette's QueryParams, or a dict)."""
        return cls(*(str(params.get(k) or "").strip() for k in ("q", "task", "model", "status")))

    @property
    def empty(self) -> bool:
        return not (self.q or self.task or self.model or self.status)

    def params(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    def matches(self, row: RunSummary) -> bool:
        if self.task and row.task != self.task:
            return False
        if self.model and row.method != self.model:
            return False
        if self.status and self.status not in (row.status, row.status_class):
            return False
        text = row.search_text()
        for word in self.q.lower().split():
            key, sep, value = word.partition(":")
            if sep and key in FIELDS:
                field_value = getattr(row, FIELDS[key])
                if field_value is None or value not in str(field_value).lower():
                    return False
            elif word not in text:
                return False
        return True

    def select(self, rows: list[RunSummary]) -> list[RunSummary]:
        return [r for r in rows if self.matches(r)]
