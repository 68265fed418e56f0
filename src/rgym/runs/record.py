"""The run directory: `runs/<run_id>/` with manifest.json, events.jsonl, result.json, artifact/.

events.jsonl is append-only, one JSON object a line, flushed as each event happens, so a crashed
run can still be read. Every event carries `schema_version`, a sequence number and a time.
Event types: reset, action, thought, observation, evaluation, model_call, format_error, budget,
error, note, message (a message the research agent sent its model, as sent: kind, step, role,
content, tool_call_id; a reply's text is in its model_call), context_fit (how the history of the
next request was cut to fit the context window).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rgym.grading.snapshot import Snapshot

SCHEMA_VERSION = 1
DEFAULT_MAX_BYTES = 64 << 20
"""The most `save_artifact` copies from a plain folder path when no limit is given."""


def _default(o: Any) -> Any:
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    if isinstance(o, Path):
        return str(o)
    return str(o)


class RunRecord:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=False)
        self._events = (self.root / "events.jsonl").open("a", buffering=1)
        self._seq = 0

    @property
    def run_id(self) -> str:
        return self.root.name

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        data = {"schema_version": SCHEMA_VERSION, "run_id": self.run_id, **manifest}
        (self.root / "manifest.json").write_text(json.dumps(data, indent=2, default=_default))

    def event(self, type_: str, **data: Any) -> None:
        self._seq += 1
        line = {
            "schema_version": SCHEMA_VERSION,
            "seq": self._seq,
            "time": time.time(),
            "type": type_,
            **data,
        }
        self._events.write(json.dumps(line, default=_default) + "\n")
        self._events.flush()

    def save_artifact(
        self, snapshot: Snapshot | Path, rel: str, *, max_bytes: int | None = None
    ) -> Path | None:
        """Copy the graded snapshot into `artifact/<rel>` as plain files (0644, folders 0755,
        owned by whoever runs rgym); returns where, or None when there is nothing to keep.

        `snapshot` is a Snapshot, or a host-owned folder holding `<basename of rel>` (the `keep`
        folder given to `grade`). Never copy from the workspace by name: a Path is opened from
        its parent's fd without following links, and a copy over `max_bytes` (default: the
        Snapshot's size, else DEFAULT_MAX_BYTES) is refused, so a wrong caller cannot turn an
        agent's link, fifo, sparse or setuid file into the record."""
        from rgym.grading.snapshot import Snapshot, SnapshotRefused, copy_plain

        name = Path(rel).name
        if isinstance(snapshot, Snapshot):
            src, limit = snapshot.path, snapshot.size
        else:
            path = Path(snapshot)
            src, limit = (path if path.name == name else path / name), DEFAULT_MAX_BYTES
        dst = self.root / "artifact" / rel
        try:
            copy_plain(src, dst, max_bytes=max_bytes if max_bytes is not None else limit)
        except (SnapshotRefused, FileNotFoundError, NotADirectoryError) as e:
            why = e.message if isinstance(e, SnapshotRefused) else f"{type(e).__name__}"
            self.event("note", message=f"the artefact was not saved: {why}")
            for parent in dst.parents:  # leave no empty artifact/ folders behind
                if parent == self.root or any(parent.iterdir()):
                    break
                parent.rmdir()
            return None
        return dst

    def write_result(self, result: dict[str, Any]) -> None:
        data = {"schema_version": SCHEMA_VERSION, "run_id": self.run_id, **result}
        tmp = self.root / "result.json.tmp"
        tmp.write_text(json.dumps(data, indent=2, default=_default))
        tmp.replace(self.root / "result.json")

    def close(self) -> None:
        if not self._events.closed:
            self._events.close()


def iter_events(run_dir: Path) -> Iterator[dict[str, Any]]:
    """Events of a run (its folder or its events.jsonl), in order; a torn last line (a crash
    mid-write) is skipped."""
    path = Path(run_dir)
    with (path if path.suffix == ".jsonl" else path / "events.jsonl").open() as f:
        for line in f:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def read_run(run_dir: Path) -> dict[str, Any]:
    """manifest and result of a run (result is None for a run that never finished)."""
    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    result_file = run_dir / "result.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else None
    return {"manifest": manifest, "result": result}
