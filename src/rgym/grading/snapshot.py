"""One safe copy of what the agent left; checks, grading and the run record read only the copy.

Why this exists: the workspace belongs to the agent, whose background processes keep running while
the host (often root) looks at it. Between a check and a use a name can be swapped for a link to a
root-only file, a file can be a fifo that blocks a read, a sparse terabyte, a hard link to another
user's file, or setuid. So nothing here resolves a path inside the workspace by name: every
component is opened with `openat(O_NOFOLLOW)` from the fd of its parent, its type, owner and size
are checked on the open fd (`fstat`) before a byte is read, reads stop at the limit, and the copy
is made of fresh plain files (0644) and folders (0755) owned by whoever runs rgym.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

CHUNK = 1 << 20
MAX_DEPTH = 64
"""Folders nested deeper than this are refused (each level holds one open fd while walked)."""

_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_AGENT_ERRNOS = {
    errno.ELOOP: "a symbolic link",
    errno.ENXIO: "a special file",
    errno.EOPNOTSUPP: "a special file",
    errno.EACCES: "not readable (permissions)",
    errno.EPERM: "not readable (permissions)",
    errno.ENAMETOOLONG: "named too long",
}
"""Errors the agent can cause on its own files: refusals, never infrastructure failures."""


class SnapshotRefused(Exception):
    """The artefact cannot be copied safely; `status` is a GradeStatus value, `message` is shown
    to the agent (it names the file and the limit, never the content)."""

    def __init__(self, status: Literal["no_artifact", "invalid_artifact"], message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Snapshot:
    """A host-owned copy of the artefact: `root` holds only `path` (named like the artefact)."""

    root: Path
    path: Path
    kind: Literal["file", "directory"]
    size: int
    """Bytes, all files together."""
    files: int
    """Regular files copied (1 for a file artefact)."""
    sha256: str
    """Of the file; for a folder, over its sorted relative names, kinds and file hashes."""
    skipped: tuple[str, ...] = field(default=())


def _type_name(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a named pipe (fifo)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a file"),
    ):
        if test(mode):
            return name
    return "a special file"


def _mb(n: int) -> str:
    return f"{n / (1 << 20):g} MB"


class _Walk:
    """The state of one copy: limits left, what was skipped, and the hash entries."""

    def __init__(
        self,
        max_bytes: int,
        max_files: int,
        owner: int | None,
        strict: bool,
        skip: Callable[[str], bool] | None = None,
        what: str = "the artefact",
    ):
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.bytes = 0
        self.files = 0
        self.entries = 0
        self.owner = owner
        self.strict = strict
        self.skip = skip
        self.what = what
        self.skipped: list[str] = []
        self.hashes: list[tuple[str, str, str]] = []

    def refuse(self, rel: str, why: str) -> None:
        """A link, special file or foreign file: refused (strict) or skipped and listed."""
        if self.strict:
            raise SnapshotRefused("invalid_artifact", f"{rel} is {why}; {_ADVICE}")
        self.skipped.append(rel)

    def too_big(self, rel: str) -> SnapshotRefused:
        return SnapshotRefused(
            "invalid_artifact",
            f"{rel}: {self.what} is larger than the limit of {_mb(self.max_bytes)} "
            f"({self.max_bytes} bytes); it was not copied or graded.",
        )

    def count(self, rel: str) -> None:
        self.entries += 1
        if self.entries > self.max_files:
            raise SnapshotRefused(
                "invalid_artifact",
                f"{rel}: {self.what} holds more than {self.max_files} files and folders "
                "(the limit).",
            )


_ADVICE = "write plain files and folders only (no links, pipes, sockets or devices)."


def _open_entry(parent_fd: int, name: str, walk: _Walk, rel: str) -> tuple[int, os.stat_result]:
    """Open `name` under `parent_fd` for reading without following links and without opening a
    special file: O_PATH first (type and owner on the fd), then O_RDONLY|O_NONBLOCK, checked to
    be the same inode. Returns (-1, st) when the entry was skipped."""
    pfd = os.open(name, _PATH, dir_fd=parent_fd)
    try:
        st = os.fstat(pfd)
    finally:
        os.close(pfd)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        walk.refuse(rel, _type_name(st.st_mode))
        return -1, st
    if walk.owner is not None and st.st_uid != walk.owner:
        walk.refuse(rel, "not the agent's own (a hard link to another user's file?)")
        return -1, st
    if stat.S_ISREG(st.st_mode) and st.st_size > walk.max_bytes - walk.bytes:
        raise walk.too_big(rel)
    flags = _READ | (os.O_DIRECTORY if stat.S_ISDIR(st.st_mode) else 0)
    fd = os.open(name, flags, dir_fd=parent_fd)
    st2 = os.fstat(fd)
    if (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino) or st2.st_mode != st.st_mode:
        os.close(fd)
        raise SnapshotRefused("invalid_artifact", f"{rel} changed while it was being copied.")
    return fd, st2


def _copy_file(fd: int, st: os.stat_result, dst_dir_fd: int, name: str, walk: _Walk, rel: str):
    """Copy at most the bytes left under the limit (+1 to notice growth) into a new 0644 file."""
    if st.st_size > walk.max_bytes - walk.bytes:
        raise walk.too_big(rel)
    out = os.open(name, _CREATE, 0o644, dir_fd=dst_dir_fd)
    h = hashlib.sha256()
    try:
        os.fchmod(out, 0o644)
        while True:
            left = walk.max_bytes - walk.bytes
            chunk = os.read(fd, min(CHUNK, left + 1))
            if not chunk:
                break
            if len(chunk) > left:
                raise walk.too_big(rel)
            walk.bytes += len(chunk)
            h.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view) :]
    finally:
        os.close(out)
    walk.files += 1
    digest = h.hexdigest()
    walk.hashes.append(("f", rel, digest))
    return digest


def _copy_dir(src_fd: int, dst_fd: int, walk: _Walk, rel: str, depth: int) -> None:
    """Copy the entries of the open folder `src_fd` into the open folder `dst_fd`."""
    if depth > MAX_DEPTH:
        raise SnapshotRefused(
            "invalid_artifact", f"{rel}: folders are nested deeper than {MAX_DEPTH} levels."
        )
    names: list[str] = []
    try:
        with os.scandir(src_fd) as it:
            for entry in it:
                child = f"{rel}/{entry.name}" if rel else entry.name
                if walk.skip is not None and walk.skip(child):
                    continue
                walk.count(child)
                names.append(entry.name)
    except OSError as e:
        if e.errno not in _AGENT_ERRNOS:
            raise
        walk.refuse(rel or ".", _AGENT_ERRNOS[e.errno])
        return
    for name in sorted(names):
        child = f"{rel}/{name}" if rel else name
        try:
            fd, st = _open_entry(src_fd, name, walk, child)
        except FileNotFoundError:
            continue  # removed while we walked: it is not part of the snapshot
        except OSError as e:
            if e.errno in _AGENT_ERRNOS:
                walk.refuse(child, _AGENT_ERRNOS[e.errno])
                continue
            raise
        if fd < 0:
            continue
        try:
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(name, 0o755, dir_fd=dst_fd)
                sub = os.open(name, _DIR, dir_fd=dst_fd)
                try:
                    os.fchmod(sub, 0o755)
                    walk.hashes.append(("d", child, ""))
                    _copy_dir(fd, sub, walk, child, depth + 1)
                finally:
                    os.close(sub)
            else:
                _copy_file(fd, st, dst_fd, name, walk, child)
        finally:
            os.close(fd)


def _open_dir_path(path: Path) -> int:
    """A host-owned folder (the workspace root itself, a snapshot root), opened without
    following a link at its last component."""
    return os.open(path, _DIR)


def _tree_hash(walk: _Walk) -> str:
    h = hashlib.sha256()
    for kind, rel, digest in sorted(walk.hashes, key=lambda t: t[1]):
        h.update(f"{kind}\0{rel}\0{digest}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _copy_one(
    src_parent_fd: int,
    name: str,
    rel: str,
    dst: Path,
    walk: _Walk,
    expect: Literal["file", "directory"] | None,
) -> tuple[Literal["file", "directory"], str]:
    """Copy the entry `name` of an open folder to `dst` (which must not exist yet)."""
    try:
        fd, st = _open_entry(src_parent_fd, name, walk, rel)
    except FileNotFoundError:
        raise SnapshotRefused("no_artifact", f"No {rel} in the workspace.") from None
    except OSError as e:
        if e.errno in _AGENT_ERRNOS:
            raise SnapshotRefused(
                "invalid_artifact", f"{rel} is {_AGENT_ERRNOS[e.errno]}; {_ADVICE}"
            ) from None
        raise
    try:
        kind: Literal["file", "directory"] = "directory" if stat.S_ISDIR(st.st_mode) else "file"
        if expect is not None and kind != expect:
            raise SnapshotRefused(
                "invalid_artifact",
                f"{rel} must be a {'folder' if expect == 'directory' else 'file'}, "
                f"not {_type_name(st.st_mode)}.",
            )
        dst_parent = os.open(dst.parent, _DIR)
        try:
            if kind == "file":
                walk.count(rel)
                return kind, _copy_file(fd, st, dst_parent, dst.name, walk, rel)
            os.mkdir(dst.name, 0o755, dir_fd=dst_parent)
            sub = os.open(dst.name, _DIR, dir_fd=dst_parent)
            try:
                os.fchmod(sub, 0o755)
                _copy_dir(fd, sub, walk, rel, 1)
            finally:
                os.close(sub)
            return kind, _tree_hash(walk)
        finally:
            os.close(dst_parent)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """Remove a partial or earlier copy (in a host-owned folder; rmtree works through fds)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def take_snapshot(
    workspace: Path,
    rel: str,
    into: Path,
    *,
    max_bytes: int,
    max_files: int = 10_000,
    expect: Literal["file", "directory"],
) -> Snapshot:
    """Copy the artefact `rel` of `workspace` to `into/<basename>`, safely (see the module).

    Every component of `rel` is opened with O_NOFOLLOW from its parent's fd; the artefact (and,
    for a folder, everything in it) must be a regular file or folder owned by the workspace's
    owner; nothing larger than `max_bytes` in all is read.

    Raises:
        SnapshotRefused: missing ("no_artifact"), or a link, special file, wrong kind, too large
            or too many files ("invalid_artifact"); nothing is left in `into` then.
    """
    parts = [p for p in Path(rel).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or Path(rel).is_absolute():
        raise ValueError(f"not a relative path inside the workspace: {rel!r}")
    into.mkdir(parents=True, exist_ok=True)
    dst = into / parts[-1]
    if dst.exists() or dst.is_symlink():
        _remove(dst)  # an earlier snapshot in a host-owned folder
    ws_fd = _open_dir_path(workspace)
    fds = [ws_fd]
    try:
        walk = _Walk(max_bytes, max_files, os.fstat(ws_fd).st_uid, strict=True)
        for i, part in enumerate(parts[:-1]):
            where = "/".join(parts[: i + 1])
            try:
                fd = os.open(part, _DIR, dir_fd=fds[-1])
            except FileNotFoundError:
                raise SnapshotRefused("no_artifact", f"No {rel} in the workspace.") from None
            except OSError as e:
                if e.errno in (errno.ENOTDIR, *_AGENT_ERRNOS):
                    raise SnapshotRefused(
                        "invalid_artifact", f"{where} must be a real folder (not a link or file)."
                    ) from None
                raise
            fds.append(fd)
            if os.fstat(fd).st_uid != walk.owner:
                raise SnapshotRefused("invalid_artifact", f"{where} is not the agent's own.")
        try:
            kind, digest = _copy_one(fds[-1], parts[-1], rel, dst, walk, expect)
        except BaseException:
            _remove(dst)
            raise
    finally:
        for fd in reversed(fds):
            os.close(fd)
    return Snapshot(
        root=into, path=dst, kind=kind, size=walk.bytes, files=walk.files, sha256=digest
    )


def snapshot_tree(
    workspace: Path,
    into: Path,
    *,
    max_bytes: int,
    max_files: int,
    skip: Callable[[str], bool] | None = None,
) -> list[str]:
    """Copy a whole workspace into the folder `into` as plain files and folders, safely.

    For graders that run in a copy of the workspace (MLGym tasks). Links, pipes, sockets, devices
    and files not owned by the workspace's owner are left out and returned (relative paths);
    `skip(rel)` returning True leaves an entry out silently.

    Raises:
        SnapshotRefused: ("invalid_artifact") the workspace holds more than `max_bytes` or
            `max_files`; what was copied so far stays in `into` for the caller to remove.
    """
    into.mkdir(parents=True, exist_ok=True)
    ws_fd = _open_dir_path(workspace)
    try:
        dst_fd = os.open(into, _DIR)
        try:
            walk = _Walk(
                max_bytes,
                max_files,
                os.fstat(ws_fd).st_uid,
                strict=False,
                skip=skip,
                what="the workspace",
            )
            _copy_dir(ws_fd, dst_fd, walk, "", 1)
        finally:
            os.close(dst_fd)
    finally:
        os.close(ws_fd)
    return walk.skipped


def copy_plain(
    src: Path, dst: Path, *, max_bytes: int = 1 << 62, max_files: int = 1_000_000
) -> tuple[int, int]:
    """Copy the file or folder `src` to `dst` as plain 0644 files and 0755 folders owned by the
    caller; returns (bytes, files). `src`'s parent is opened by path, so it must be a host-owned
    folder (a snapshot root); from there on the copy is as strict as a snapshot: links and special
    files are refused, and owners must match that parent's.

    Raises:
        SnapshotRefused: `src` is missing, a link or special file, or over the limits.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        _remove(dst)
    parent = _open_dir_path(src.parent)
    try:
        walk = _Walk(max_bytes, max_files, os.fstat(parent).st_uid, strict=True)
        try:
            _copy_one(parent, src.name, src.name, dst, walk, None)
        except BaseException:
            _remove(dst)
            raise
    finally:
        os.close(parent)
    return walk.bytes, walk.files
