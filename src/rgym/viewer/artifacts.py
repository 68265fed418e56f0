"""A run's final artefact, previewed: a CSV as a table, code highlighted, a folder as a list;
and the unified diff of two runs' artefacts.

Everything is read through :mod:`rgym.viewer.safe_files` (no link is followed) and shown as
text: pygments escapes what it highlights, and the templates escape the rest.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass, field
from pathlib import Path

from markupsafe import Markup

from rgym.viewer import safe_files

ARTIFACT_DIR = "artifact"
PREVIEW_BYTES = 256 << 10
HIGHLIGHT_BYTES = 128 << 10
CSV_ROWS = 40
MAX_PREVIEWS = 12
MAX_ENTRIES = 500
DIFF_BYTES = 512 << 10
DIFF_SIDE_LINES = 6000
DIFF_MAX_LINES = 3000
CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}


@dataclass
class FilePreview:
    """One artefact file as the page shows it. ``kind``: csv, code, binary or empty."""

    path: str
    size: int
    kind: str
    html: Markup | None = None
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    lines_read: int = 0
    truncated: bool = False
    """Only the first :data:`PREVIEW_BYTES` were read (counts are then lower bounds)."""


@dataclass
class Artifact:
    """The artefact folder: every entry (links listed, never followed) and file previews."""

    entries: list[safe_files.Entry]
    capped: bool
    previews: list[FilePreview]
    unpreviewed: int

    @property
    def files(self) -> list[safe_files.Entry]:
        return [e for e in self.entries if e.kind == "file"]


def is_binary(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return True
    try:
        data[:8192].decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(data[:8192]) - 4  # a cut multi-byte char at the end is fine
    return False


def highlight(text: str, filename: str) -> Markup:
    """Code as HTML spans (pygments escapes the text); plain text when no lexer fits."""
    from pygments import highlight as pyg_highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import TextLexer, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_for_filename(filename, stripnl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False)
    return Markup(pyg_highlight(text, lexer, HtmlFormatter(cssclass="hl", wrapcode=True)))


def preview_file(run_dir: Path, path: str) -> FilePreview:
    """Preview ``artifact/<path>`` of a run.

    Raises:
        safe_files.OutsideRun: not a plain file inside the run.
    """
    data, size = safe_files.read_bytes(run_dir, f"{ARTIFACT_DIR}/{path}", PREVIEW_BYTES)
    out = FilePreview(path, size, "code", truncated=size > len(data))
    if not data:
        out.kind = "empty"
        return out
    if is_binary(data):
        out.kind = "binary"
        return out
    text = data.decode("utf-8", errors="replace")
    out.lines_read = text.count("\n") + (not text.endswith("\n"))
    delimiter = CSV_SUFFIXES.get(Path(path).suffix.lower())
    if delimiter is not None:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        try:
            out.header = next(reader, [])
            for row in reader:
                if len(out.rows) >= CSV_ROWS:
                    break
                out.rows.append(row)
            out.kind = "csv"
            return out
        except csv.Error:
            out.header, out.rows = [], []  # not really CSV: show it as text
    out.html = highlight(text[:HIGHLIGHT_BYTES], path)
    out.truncated = out.truncated or len(text) > HIGHLIGHT_BYTES
    return out


def artifact_of(run_dir: Path) -> Artifact | None:
    """The run's artefact folder, or None when the run kept none."""
    if not (run_dir / ARTIFACT_DIR).is_dir() or (run_dir / ARTIFACT_DIR).is_symlink():
        return None
    entries, capped = safe_files.walk(run_dir, ARTIFACT_DIR, MAX_ENTRIES)
    files = [e for e in entries if e.kind == "file"]
    previews = []
    for entry in files[:MAX_PREVIEWS]:
        try:
            previews.append(preview_file(run_dir, entry.path))
        except safe_files.OutsideRun:
            continue
    return Artifact(entries, capped, previews, max(0, len(files) - MAX_PREVIEWS))


# --- diff ----------------------------------------------------------------------------------------


@dataclass
class FileDiff:
    """The diff of one artefact file. ``status``: changed, same, only in A, only in B,
    binary or too large. ``lines`` are (css class, text) pairs."""

    path_a: str | None
    path_b: str | None
    status: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    truncated: bool = False


def _text_lines(run_dir: Path, path: str) -> list[str] | None:
    """The file's lines, or None when it is binary or too large to diff."""
    data, size = safe_files.read_bytes(run_dir, f"{ARTIFACT_DIR}/{path}", DIFF_BYTES + 1)
    if size > DIFF_BYTES or is_binary(data):
        return None
    return data.decode("utf-8", errors="replace").splitlines()


def diff_file(run_a: Path, path_a: str, run_b: Path, path_b: str) -> FileDiff:
    out = FileDiff(path_a, path_b, "changed")
    try:
        a, b = _text_lines(run_a, path_a), _text_lines(run_b, path_b)
    except safe_files.OutsideRun:
        out.status = "unreadable"
        return out
    if a is None or b is None:
        out.status = "binary or too large"
        return out
    if a == b:
        out.status = "same"
        return out
    if len(a) > DIFF_SIDE_LINES or len(b) > DIFF_SIDE_LINES:
        out.truncated = True
        a, b = a[:DIFF_SIDE_LINES], b[:DIFF_SIDE_LINES]
    diff = difflib.unified_diff(a, b, f"A/{path_a}", f"B/{path_b}", lineterm="", n=3)
    for line in diff:
        if len(out.lines) >= DIFF_MAX_LINES:
            out.truncated = True
            break
        if line.startswith(("---", "+++")):
            cls = "file"
        elif line.startswith("@@"):
            cls = "hunk"
        elif line.startswith("+"):
            cls, out.added = "add", out.added + 1
        elif line.startswith("-"):
            cls, out.removed = "del", out.removed + 1
        else:
            cls = "ctx"
        out.lines.append((cls, line))
    return out


def diff_artifacts(run_a: Path, run_b: Path) -> list[FileDiff]:
    """File-by-file diffs of two artefacts, paired by path inside ``artifact/``; two artefacts
    of one file each are compared whatever their names."""

    def files(run: Path) -> list[str]:
        if not (run / ARTIFACT_DIR).is_dir():
            return []
        entries, _ = safe_files.walk(run, ARTIFACT_DIR, MAX_ENTRIES)
        return [e.path for e in entries if e.kind == "file"]

    fa, fb = files(run_a), files(run_b)
    if len(fa) == 1 and len(fb) == 1:
        return [diff_file(run_a, fa[0], run_b, fb[0])]
    out = []
    for path in sorted(set(fa) | set(fb)):
        if path not in fb:
            out.append(FileDiff(path, None, "only in A"))
        elif path not in fa:
            out.append(FileDiff(None, path, "only in B"))
        else:
            out.append(diff_file(run_a, path, run_b, path))
    return out
