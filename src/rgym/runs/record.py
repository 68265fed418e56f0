"""The run directory: `runs/<run_id>/` with manifest.json, events.jsonl, result.json, artifact/.

events.jsonl is append-only, one JSON object a line, flushed as each event happens, so a crashed
run can still be read. Every event carries `schema_version`, a sequence number and a time.
Event types: reset, action, thought, observation, evaluation, model_call, format_error, budget,
error, note.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


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

    def save_artifact(self, workspace: Path, rel: str) -> Path | None:
        src = workspace / rel
        if not src.exists() or src.is_symlink():
            return None
        dst = self.root / "artifact" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst)
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
