"""Per-episode storage with a hard size: the workspace, /tmp and /dev/shm share one limit.

Without it an agent can fill the host's disk through its workspace, or the host's memory through
/tmp and /dev/shm (both tmpfs). As root, rgym mounts one tmpfs of `disk_mb` on a scratch folder
it owns and gives the sandbox three folders of it: `workspace/` (the agent's, uid 65534), `tmp/`
and `shm/` (1777). Past the limit, writes fail with ENOSPC and the episode goes on; the host
never holds more than the limit. tmpfs pages are memory, charged to the writer's memory cgroup,
so the size is kept below the sandbox's memory limit: a full disk then never leaves the sandbox
without memory for its own shell. The mount lives in a scratch folder (`scratch.scratch_dir`),
so it is unmounted after a crash by the next rgym to start.

Not root (or mounting is refused): the workspace is a plain scratch folder without a limit, and
bubblewrap gives /tmp and /dev/shm a sized tmpfs each; `in_force` says exactly that.
"""

from __future__ import annotations

import os
from pathlib import Path

from rgym.sandbox import scratch

MS_NOSUID, MS_NODEV = 2, 4
MEMORY_HEADROOM_MB = 256
"""Memory kept free of tmpfs pages for the sandbox's processes and its shell."""


def _mount_tmpfs(target: Path, size_mb: int) -> None:
    import ctypes  # here: importing it costs milliseconds that only root mounts need

    libc = ctypes.CDLL(None, use_errno=True)
    inodes = max(8192, size_mb * 64)
    opts = f"size={size_mb}m,nr_inodes={inodes},mode=0755".encode()
    if libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(target))


class EpisodeStorage:
    """One episode's writable storage (host paths), and what limit really holds on it."""

    def __init__(
        self,
        root: Path,
        workspace: Path,
        tmp: Path | None,
        shm: Path | None,
        in_force: dict[str, object],
        tmpfs_mb: int | None = None,
        mounted: bool = False,
    ) -> None:
        self.root = root
        self.workspace = workspace
        self.tmp = tmp
        """Host folder bound at /tmp; None: the sandbox makes its own tmpfs."""
        self.shm = shm
        """Host folder bound at /dev/shm; None: the sandbox makes its own tmpfs."""
        self.tmpfs_mb = tmpfs_mb
        """Size of each of the sandbox's own /tmp and /dev/shm when they are not bound here."""
        self.in_force = in_force
        self.mounted = mounted

    def launch_fields(self) -> dict[str, object]:
        """Keyword arguments for LaunchSpec that make the sandbox use this storage."""
        return {"tmp_dir": self.tmp, "shm_dir": self.shm, "tmpfs_mb": self.tmpfs_mb}

    def usage(self) -> tuple[int, int] | None:
        """(bytes used, bytes allowed) of the limited storage; None when it has no limit."""
        if not self.mounted:
            return None
        try:
            st = os.statvfs(self.root)
        except OSError:
            return None
        total = st.f_blocks * st.f_frsize
        return total - st.f_bfree * st.f_frsize, total

    def full(self) -> bool:
        """Whether the limit is (all but) used up: evidence when a sandbox dies."""
        use = self.usage()
        return use is not None and use[1] - use[0] < max(1 << 20, use[1] // 100)

    def close(self) -> None:
        """Unmount and remove everything (the agent's files are gone after this)."""
        scratch.remove_tree(self.root)


def make_episode_storage(
    backend: object, disk_mb: int | None, memory_mb: int | None = None
) -> EpisodeStorage:
    """Make the storage for one episode under `backend`, limited to `disk_mb` where possible.

    `memory_mb` is the sandbox's memory limit: the disk limit is kept MEMORY_HEADROOM_MB below
    it, because tmpfs pages count as the sandbox's memory.
    """
    root = scratch.scratch_dir("episode-")
    isolated = getattr(backend, "isolated", False)
    uid = getattr(backend, "agent_uid", None)
    if not disk_mb or not isolated:
        ws = root / "workspace"
        ws.mkdir(mode=0o755)
        why = "no limit asked for" if not disk_mb else "the local backend has no disk limit"
        return EpisodeStorage(root, ws, None, None, {"disk": f"none ({why})"})
    size = disk_mb
    in_force: dict[str, object] = {}
    if memory_mb and size > memory_mb - MEMORY_HEADROOM_MB:
        size = max(16, memory_mb - MEMORY_HEADROOM_MB)
        in_force["disk_requested_mb"] = disk_mb
    if os.geteuid() == 0:
        try:
            _mount_tmpfs(root, size)
        except OSError as e:
            in_force["disk_mount_error"] = str(e)
        else:
            dirs = {}
            for name, mode in (("workspace", 0o755), ("tmp", 0o1777), ("shm", 0o1777)):
                d = root / name
                d.mkdir()
                d.chmod(mode)
                dirs[name] = d
            if uid is not None and uid != os.geteuid():
                os.chown(dirs["workspace"], uid, uid)
            in_force.update(
                disk_mb=size,
                disk="tmpfs shared by the workspace, /tmp and /dev/shm (counts as memory)",
            )
            return EpisodeStorage(
                root, dirs["workspace"], dirs["tmp"], dirs["shm"], in_force, mounted=True
            )
    ws = root / "workspace"
    ws.mkdir(mode=0o755)
    half = max(16, size // 2)
    in_force.update(
        tmp_mb=half,
        shm_mb=half,
        disk=f"/tmp and /dev/shm: a {half} MiB tmpfs each; the workspace has NO limit",
    )
    return EpisodeStorage(root, ws, None, None, in_force, tmpfs_mb=half)
