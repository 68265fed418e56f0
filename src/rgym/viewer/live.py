"""Live updates: a tail of events.jsonl, sent to the browser as server-sent events.

The tail polls the file's size (a few times a second: portable, no inotify) and sends each new
complete line as one event, shaped by :func:`rgym.viewer.transcript.event_view` exactly as the
page shapes the events it already shows. A half-written last line waits for its newline. When
result.json appears the stream says ``finished`` and ends.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rgym.viewer import safe_files
from rgym.viewer.transcript import event_view, num

POLL_SECONDS = 0.2
KEEPALIVE_SECONDS = 10.0
MAX_READ = 8 << 20
"""The most one poll reads; a burst larger than this is sent over the next polls."""
FACT_KEYS = (
    "type",
    "seq",
    "step",
    "time",
    "split",
    "score",
    "status",
    "cost_usd",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
)


def sse(data: Any, event: str | None = None, event_id: int | None = None) -> str:
    """One server-sent event; JSON has no raw newlines, so one ``data:`` line holds it."""
    lines = []
    if event:
        lines.append(f"event: {event}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data, default=str)}")
    return "\n".join(lines) + "\n\n"


class EventTail:
    """New events of one run after sequence number ``after``, read incrementally."""

    def __init__(self, run_dir: Path, after: int = 0) -> None:
        self.run_dir = run_dir
        self.after = after
        self.offset = 0
        self.partial = b""
        self.t0: float | None = None

    def finished(self) -> bool:
        return safe_files.is_file(self.run_dir, "result.json")

    def poll(self) -> list[dict[str, Any]]:
        """Messages for the events written since the last poll (none if the file is missing)."""
        try:
            with safe_files.open_binary(self.run_dir, "events.jsonl") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self.offset:  # replaced or truncated: start again
                    self.offset, self.partial = 0, b""
                if size == self.offset:
                    return []
                f.seek(self.offset)
                chunk = f.read(MAX_READ)
        except safe_files.OutsideRun:
            return []
        self.offset += len(chunk)
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        out = []
        for line in lines:
            try:
                ev = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if not isinstance(ev, dict):
                continue
            t = num(ev.get("time"))
            if self.t0 is None and t is not None:
                self.t0 = t
            seq = ev.get("seq")
            if isinstance(seq, int) and seq <= self.after:
                continue
            if isinstance(seq, int):
                self.after = seq
            facts = {k: ev.get(k) for k in FACT_KEYS if k in ev}
            out.append({"view": event_view(ev, self.t0).to_json(), "facts": facts})
        return out
