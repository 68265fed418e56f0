"""Read files inside a run folder without ever leaving it.

Run folders hold what an agent made, so a path in a URL or a link inside an artefact is hostile
input. Every read here walks the path one component at a time from the run folder's own
descriptor with ``O_NOFOLLOW``: ``..``, absolute paths and symbolic links (to anywhere) are
refused, so nothing outside the run can be reached whatever the filesystem holds.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class OutsideRun(LookupError):
    """A path that is not a plain file or folder inside the run (the server answers 404)."""


@dataclass(frozen=True)
class Entry:
    """One thing in a run's folder tree: ``kind`` is file, dir, link or other (fifo, socket)."""

    path: str
    kind: str
    size: int


def split_relative(rel: str) -> list[str]:
    """The components of a relative path, refusing anything that could climb or jump.

    Raises:
        OutsideRun: empty, absolute, ``.``/``..`` components, NUL or backslash.
    """
    if not rel or rel.startswith("/") or "\x00" in rel or "\\" in rel:
        raise OutsideRun(rel)
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise OutsideRun(rel)
    return parts


@contextmanager
def open_dir(run_dir: Path, parts: list[str]) -> Iterator[int]:
    """A descriptor of the folder ``parts`` below ``run_dir``, no link followed below it."""
    try:
        fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise OutsideRun(str(run_dir)) from e
    try:
        for part in parts:
            try:
                nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                raise OutsideRun("/".join(parts)) from e
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def read_bytes(run_dir: Path, rel: str, limit: int | None = None) -> tuple[bytes, int]:
    """Up to ``limit`` bytes of the plain file ``rel`` in the run, and its full size.

    Raises:
        OutsideRun: the path climbs, goes through a link, or is not a regular file.
    """
    parts = split_relative(rel)
    with open_dir(run_dir, parts[:-1]) as dir_fd:
        try:
            fd = os.open(parts[-1], FILE_FLAGS, dir_fd=dir_fd)
        except OSError as e:
            raise OutsideRun(rel) from e
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OutsideRun(rel)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read() if limit is None else f.read(limit)
        return data, info.st_size
    finally:
        os.close(fd)


def read_text(run_dir: Path, rel: str, limit: int | None = None) -> str:
    """A file of the run as text (undecodable bytes replaced)."""
    return read_bytes(run_dir, rel, limit)[0].decode("utf-8", errors="replace")


@contextmanager
def open_binary(run_dir: Path, rel: str) -> Iterator[object]:
    """The plain file ``rel`` opened for reading (for tailing events.jsonl)."""
    parts = split_relative(rel)
    with open_dir(run_dir, parts[:-1]) as dir_fd:
        try:
            fd = os.open(parts[-1], FILE_FLAGS, dir_fd=dir_fd)
        except OSError as e:
            raise OutsideRun(rel) from e
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OutsideRun(rel)
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as f:
        yield f


def is_file(run_dir: Path, rel: str) -> bool:
    """Whether ``rel`` is a plain file in the run (a link is not)."""
    try:
        parts = split_relative(rel)
        with open_dir(run_dir, parts[:-1]) as dir_fd:
            info = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False)
    except (OutsideRun, OSError):
        return False
    return stat.S_ISREG(info.st_mode)


def walk(run_dir: Path, rel: str, max_entries: int = 500) -> tuple[list[Entry], bool]:
    """Everything under the folder ``rel`` of the run, sorted, links listed but not followed.

    Returns the entries (paths relative to ``rel``) and whether the walk stopped at
    ``max_entries``. A missing folder gives no entries.
    """
    out: list[Entry] = []

    def visit(parts: list[str], prefix: str) -> bool:
        try:
            with open_dir(run_dir, parts) as fd, os.scandir(fd) as it:
                items = sorted(it, key=lambda e: e.name)
                for item in items:
                    if len(out) >= max_entries:
                        return False
                    info = item.stat(follow_symlinks=False)
                    kind = (
                        "dir"
                        if stat.S_ISDIR(info.st_mode)
                        else "file"
                        if stat.S_ISREG(info.st_mode)
                        else "link"
                        if stat.S_ISLNK(info.st_mode)
                        else "other"
                    )
                    out.append(
                        Entry(prefix + item.name, kind, info.st_size if kind == "file" else 0)
                    )
                    if kind == "dir" and not visit([*parts, item.name], f"{prefix}{item.name}/"):
                        return False
        except OutsideRun:
            return True
        return True

    complete = visit(split_relative(rel), "")
    return out, not complete
