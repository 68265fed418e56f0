"""Writing rows atomically: into a hidden file beside the output, moved into place only when
every row is written, so a failed or interrupted export never leaves half a data set behind
under the name a trainer reads.

JSONL is streamed (one row in memory at a time). Parquet is built from all rows at the end, in
one of two layouts: `native` Arrow structs (what pandas, and so verl, reads back as dicts; a
struct's fields are the union over rows, missing ones null), or the `datasets` library's layout,
where values whose keys differ from row to row (tool schemas, tool-call arguments, metrics) are
stored as JSON and read back exactly by `datasets.load_dataset("parquet", ...)`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from rgym.errors import RgymError
from rgym.export.texts import clean


class RowWriter:
    """Rows to `out` (.jsonl, or .parquet); use as a context manager, then call `commit()`."""

    def __init__(self, out: Path, *, native: bool = False) -> None:
        self.out = Path(out)
        self.parquet = self.out.suffix == ".parquet"
        self.native = native
        self.count = 0
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.with_name(f".{self.out.name}.{os.getpid()}.tmp")
        self.rows: list[dict[str, Any]] = []
        self.fh: IO[str] | None = None
        if not self.parquet:
            self.fh = self.tmp.open("w", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        row = clean(row)
        if self.fh is not None:
            self.fh.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
        else:
            self.rows.append(row)
        self.count += 1

    def commit(self) -> None:
        """Finish the file and move it into place (replacing `out`)."""
        if self.fh is not None:
            self.fh.close()
        else:
            write_parquet(self.rows, self.tmp, native=self.native)
            self.rows = []
        os.replace(self.tmp, self.out)

    def abort(self) -> None:
        if self.fh is not None and not self.fh.closed:
            self.fh.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.tmp.exists():  # not committed: an error, or nothing to keep
            self.abort()


def write_parquet(rows: list[dict[str, Any]], path: Path, *, native: bool) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise RgymError(
            "writing parquet needs pyarrow: pip install 'rgym[export]' (or write .jsonl)"
        ) from None
    if native:
        pq.write_table(pa.Table.from_pylist(rows), path)
        return
    try:
        import datasets
    except ImportError:
        raise RgymError(
            "writing this format as parquet needs the datasets library: pip install "
            "'rgym[export]' (or write .jsonl)"
        ) from None
    quiet = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        datasets.Dataset.from_list(rows, on_mixed_types="use_json").to_parquet(str(path))
    finally:
        if not quiet:
            datasets.enable_progress_bars()
