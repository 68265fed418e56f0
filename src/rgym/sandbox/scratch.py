"""Host-side scratch folders (workspaces, grading folders) that outlive no crash.

Every rgym process owns one folder, `<tmp>/rgym-scratch/<owner>/`, and holds an exclusive
`flock` on `<owner>.lock` beside it for as long as it lives. Every workspace, grading folder and
episode mount it makes lives under that folder. When a process dies (even by SIGKILL) the kernel
drops its lock, so the next rgym process to start finds the folder unlocked and removes it:
mounts are unmounted first, cgroups named after the owner are emptied and removed. A live
process's folders are never touched, whatever its pid.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

_lock = threading.Lock()
_owner: tuple[str, int] | None = None  # (owner id, fd of the held lock)
_owner_pid: int | None = None
_reaped = False
ORPHAN_AGE = 60.0
"""Seconds an ownerless empty cgroup must have existed before it is removed (one made by a
process in another pid namespace may be seconds from receiving its first process)."""


def scratch_root() -> Path:
    """`$RGYM_SCRATCH`, else `<tmp>/rgym-scratch`; world-traversable so sandboxes can mount."""
    root = Path(os.environ.get("RGYM_SCRATCH") or Path(tempfile.gettempdir()) / "rgym-scratch")
    root.mkdir(parents=True, exist_ok=True)
    if root.stat().st_uid == os.geteuid():
        root.chmod(0o755)
    return root


def owner_id() -> str:
    """This process's owner id (taken, and its lock held, on first use; new after a fork)."""
    global _owner, _owner_pid
    with _lock:
        if _owner is None or _owner_pid != os.getpid():
            root = scratch_root()
            oid = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
            fd = os.open(root / f"{oid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            (root / oid).mkdir(mode=0o755)
            _owner, _owner_pid = (oid, fd), os.getpid()
            atexit.register(_remove_own, oid, os.getpid())
        return _owner[0]


def owner_dir() -> Path:
    return scratch_root() / owner_id()


def _remove_own(oid: str, pid: int) -> None:
    """At a normal exit: remove this process's own scratch folder and lock."""
    if os.getpid() != pid:
        return
    root = scratch_root()
    for cg in _stale_cgroups(oid):  # sandboxes nobody closed (their processes died with us)
        kill_cgroup(cg)
    remove_tree(root / oid)
    (root / f"{oid}.lock").unlink(missing_ok=True)


def scratch_dir(prefix: str) -> Path:
    """A new, empty, 0755 folder owned by this process; removed after a crash by the next start."""
    reap_stale()
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=owner_dir()))
    path.chmod(0o755)
    return path


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or under `path`, deepest first."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    prefix = str(path)
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) > 1:
            target = fields[1].encode().decode("unicode_escape")
            if target == prefix or target.startswith(prefix + "/"):
                found.append(target)
    return sorted(found, key=len, reverse=True)


def unmount_all(path: Path) -> None:
    """Unmount everything mounted at or under `path` (lazily: a busy mount goes when free)."""
    mounts = _mounts_under(path)
    if not mounts:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for target in mounts:
        libc.umount2(target.encode(), 2)  # MNT_DETACH


def remove_tree(path: Path) -> None:
    """Remove a scratch tree: mounts first, then the files (symlink-safe: rmtree uses fds)."""
    unmount_all(path)
    shutil.rmtree(path, ignore_errors=True)


def _stale_cgroups(oid: str) -> list[Path]:
    base = Path("/sys/fs/cgroup")
    found: list[Path] = []
    for parent in (base, base / "unified", base / "memory", base / "pids", base / "cpu"):
        try:
            found += [p for p in parent.glob(f"rgym-{oid}-*") if p.is_dir()]
        except OSError:
            continue
    return found


def kill_cgroup(cg: Path) -> None:
    """SIGKILL everything in a cgroup until it is empty (a fork loop adds members while we
    kill), then remove it."""
    import signal

    for attempt in range(60):
        try:
            pids = [int(p) for p in (cg / "cgroup.procs").read_text().split()]
        except OSError:
            break
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.001 if attempt < 10 else 0.01)  # most trees die at once
    try:
        cg.rmdir()
    except OSError:
        shutil.rmtree(cg, ignore_errors=True)


def _orphan_cgroups() -> None:
    """Remove empty cgroups whose owner process no longer exists, whichever scratch root (and
    so lock file) it used. An empty cgroup only: one with processes in it is never touched."""
    base = Path("/sys/fs/cgroup")
    for parent in (base, base / "unified", base / "memory", base / "pids", base / "cpu"):
        try:
            found = list(parent.glob("rgym-*-*-*"))
        except OSError:
            continue
        for cg in found:
            m = re.fullmatch(r"rgym-(\d+)-[0-9a-f]{8}-[0-9a-f]{12}", cg.name)
            if not m or os.path.exists(f"/proc/{m[1]}"):
                continue
            try:
                if time.time() - cg.stat().st_ctime > ORPHAN_AGE:  # not one being set up
                    cg.rmdir()
            except OSError:
                pass


def reap_stale() -> list[str]:
    """Remove what dead rgym processes left behind; returns the owner ids cleaned (once per
    process: later calls return [])."""
    global _reaped
    with _lock:
        if _reaped and _owner_pid == os.getpid():
            return []
        _reaped = True
    root = scratch_root()
    mine = owner_id()
    cleaned = []
    for lock in root.glob("*.lock"):
        oid = lock.stem
        if oid == mine:
            continue
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue  # its owner is alive
                raise
            for cg in _stale_cgroups(oid):
                kill_cgroup(cg)
            remove_tree(root / oid)
            lock.unlink(missing_ok=True)
            cleaned.append(oid)
        finally:
            os.close(fd)
    _orphan_cgroups()
    return cleaned
