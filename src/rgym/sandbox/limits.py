"""Resource limits for a sandboxed process tree: cgroup v2, else cgroup v1, else rlimits.

Whichever mechanism is used, `ResourceJail.in_force` says which limits really hold, so a run
record never claims a memory cap the host could not enforce.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from rgym.errors import SandboxUnavailable
from rgym.sandbox import scratch
from rgym.sandbox.base import Process, SandboxLimits

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _writable(p: Path) -> bool:
    return p.is_dir() and os.access(p, os.W_OK)


def _v2_base() -> Path | None:
    """A cgroup v2 directory we may create children in, with the controllers we need."""
    for base in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
        ctl = base / "cgroup.controllers"
        if ctl.exists() and _writable(base):
            have = set(ctl.read_text().split())
            if {"memory", "pids"} <= have:
                return base
    return None


def _user_processes() -> int:
    uid, n = os.geteuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


_TRAMPOLINE = (
    'n=$1; shift; [ "$n" = 0 ] || { ulimit -u "$n" || ulimit -p "$n"; } 2>/dev/null; '
    'while [ "$1" != -- ]; do echo $$ >"$1" || '
    '{ echo "rgym: could not join the cgroup $1" >&2; exit 125; }; shift; done; '
    'shift; exec "$@"'
)
"""$1: RLIMIT_NPROC or 0 (bash calls it -u, dash -p); then cgroup.procs files up to `--`; then
the command, exec'd in place so the sandbox keeps the shell's pid, now in the cgroup."""


class ResourceJail:
    """Creates a cgroup for one sandbox (or falls back to rlimits) and tears it down."""

    def __init__(self, limits: SandboxLimits):
        self.limits = limits
        self.paths: list[Path] = []
        self.in_force: dict[str, object] = {}
        self.mechanism = "none"
        self.nproc = 0
        """RLIMIT_NPROC for the rlimit fallback; 0: leave it."""
        # named after this process's scratch owner, so that the next rgym to start removes
        # it if this process dies without closing it (scratch.reap_stale)
        name = f"rgym-{scratch.owner_id()}-{uuid.uuid4().hex[:12]}"
        wanted = limits.memory_mb or limits.pids or limits.cpus
        if wanted and os.geteuid() == 0:
            if (base := _v2_base()) is not None:
                self._setup_v2(base, name)
            elif _writable(CGROUP_ROOT / "memory") or _writable(CGROUP_ROOT / "pids"):
                self._setup_v1(name)
        if self.mechanism == "none" and wanted:
            self.mechanism = "rlimit"
            if limits.pids:
                # RLIMIT_NPROC counts every process of the user, not just the sandbox's: allow
                # the sandbox `pids` more than the user already runs.
                self.nproc = _user_processes() + limits.pids
                self.in_force["pids"] = f"RLIMIT_NPROC={self.nproc} (per user: {limits.pids} more)"
        self.in_force["mechanism"] = self.mechanism

    def _setup_v2(self, base: Path, name: str) -> None:
        try:
            sub = base / "cgroup.subtree_control"
            for c in ("memory", "pids", "cpu"):
                if c in (base / "cgroup.controllers").read_text().split():
                    try:
                        sub.write_text(f"+{c}")
                    except OSError:
                        pass
            cg = base / name
            cg.mkdir()
            self.paths = [cg]
            if self.limits.memory_mb and (cg / "memory.max").exists():
                (cg / "memory.max").write_text(str(self.limits.memory_mb * 2**20))
                if (cg / "memory.swap.max").exists():
                    (cg / "memory.swap.max").write_text("0")
                self.in_force["memory_mb"] = self.limits.memory_mb
            if self.limits.pids and (cg / "pids.max").exists():
                (cg / "pids.max").write_text(str(self.limits.pids))
                self.in_force["pids"] = self.limits.pids
            if self.limits.cpus and (cg / "cpu.max").exists():
                (cg / "cpu.max").write_text(f"{int(self.limits.cpus * 100_000)} 100000")
                self.in_force["cpus"] = self.limits.cpus
            self.mechanism = "cgroup2"
        except OSError:
            self.close()

    def _setup_v1(self, name: str) -> None:
        settings = {
            "memory": [("memory.limit_in_bytes", self.limits.memory_mb, lambda v: v * 2**20)],
            "pids": [("pids.max", self.limits.pids, int)],
            "cpu": [
                ("cpu.cfs_period_us", self.limits.cpus, lambda v: 100_000),
                ("cpu.cfs_quota_us", self.limits.cpus, lambda v: int(v * 100_000)),
            ],
        }
        keys = {"memory": "memory_mb", "pids": "pids", "cpu": "cpus"}
        for ctl, items in settings.items():
            root = CGROUP_ROOT / ctl
            if not _writable(root) or not any(v for _, v, _ in items):
                continue
            try:
                cg = root / name
                cg.mkdir()
                self.paths.append(cg)
                for fname, value, conv in items:
                    if value:
                        (cg / fname).write_text(str(conv(value)))
                if ctl == "memory" and (cg / "memory.memsw.limit_in_bytes").exists():
                    try:
                        (cg / "memory.memsw.limit_in_bytes").write_text(
                            str(self.limits.memory_mb * 2**20)
                        )
                    except OSError:
                        pass
                self.in_force[keys[ctl]] = getattr(self.limits, keys[ctl])
            except OSError:
                continue
        if self.paths:
            self.mechanism = "cgroup1"

    def _memory_cgroup(self) -> Path | None:
        for cg in self.paths:
            if (cg / "memory.events").exists() or (cg / "memory.oom_control").exists():
                return cg
        return None

    def oom_kills(self) -> int | None:
        """How many processes the kernel's OOM killer has killed in this cgroup (None: unknown).
        Evidence for why a sandbox died: the agent's memory use, not the host."""
        cg = self._memory_cgroup()
        if cg is None:
            return None
        for fname in ("memory.events", "memory.oom_control"):
            try:
                text = (cg / fname).read_text()
            except OSError:
                continue
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return None

    def memory_usage(self) -> tuple[int, int] | None:
        """(bytes in use, bytes allowed) for the memory cgroup; None when there is none."""
        cg = self._memory_cgroup()
        if cg is None:
            return None
        for cur, top in (
            ("memory.current", "memory.max"),
            ("memory.usage_in_bytes", "memory.limit_in_bytes"),
        ):
            try:
                used = int((cg / cur).read_text())
                limit = (cg / top).read_text().strip()
            except (OSError, ValueError):
                continue
            return used, int(limit) if limit.isdigit() else 0
        return None

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` behind a /bin/sh trampoline that joins the cgroup (or lowers RLIMIT_NPROC)
        and then execs it. The shell does between fork and exec what a `preexec_fn` would do
        in Python, which is unsafe in a process with threads (JAX, PyTorch, a Gymnasium user's
        trainer): a lock held by another thread at fork time hangs the child, and Popen with
        it."""
        procs = [str(cg / "cgroup.procs") for cg in self.paths]
        return ["/bin/sh", "-c", _TRAMPOLINE, "rgym-jail", str(self.nproc), *procs, "--", *argv]

    def close(self) -> None:
        """Kill whatever is still in the cgroup (background jobs too), then remove it."""
        for cg in self.paths:
            scratch.kill_cgroup(cg)
        self.paths = []


def start_jailed(argv: list[str], limits: SandboxLimits, what: str, **popen: object) -> Process:
    """Start `argv` inside a fresh ResourceJail; the jail is torn down with the process."""
    jail = ResourceJail(limits)
    try:
        # setsid in C, the cgroup by the trampoline: no Python runs between fork and exec
        p = subprocess.Popen(jail.wrap(argv), start_new_session=True, **popen)
    except OSError as e:
        jail.close()
        raise SandboxUnavailable(f"could not start {what}: {e}") from e
    return Process(p, cleanup=jail.close, limits_in_force=dict(jail.in_force), jail=jail)
