"""No isolation at all: the agent's commands run as you, on your machine, with your network.

Only for debugging a task on a machine without bubblewrap, and only when asked for by name
(`--sandbox local`). Every run made with it says so in its output and in its manifest. Answers
are still not copied into the workspace, but nothing stops the agent from reading any file you
can read: a score from this backend is not a trustworthy score. None of the bwrap backend's
protections hold either: the agent can kill or trace the shell server (its death is then counted
as the agent's), there is no disk limit, and user namespaces are not blocked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from rgym.sandbox import gpu
from rgym.sandbox.base import Backend, LaunchSpec, Mount, Process
from rgym.sandbox.limits import start_jailed

WARNING = (
    "sandbox 'local': NO ISOLATION — the agent's code runs as you, with your files and network"
)


class LocalBackend(Backend):
    name = "local"
    isolated = False
    agent_uid = None

    def visible_path(self, mount: Mount) -> str:
        return str(mount.src)

    def _host_path(self, spec: LaunchSpec, path: str) -> Path:
        """Translate a sandbox path through the mounts (longest prefix wins)."""
        best: Mount | None = None
        for m in spec.mounts:
            if (path == m.dst or path.startswith(m.dst.rstrip("/") + "/")) and (
                best is None or len(m.dst) > len(best.dst)
            ):
                best = m
        if best is None:
            return Path(path)
        return best.src / os.path.relpath(path, best.dst)

    def _link_nested(self, spec: LaunchSpec) -> None:
        """A mount inside another (data/ inside the workspace) becomes a symlink."""
        for m in spec.mounts:
            for outer in spec.mounts:
                if outer is not m and m.dst.startswith(outer.dst.rstrip("/") + "/"):
                    link = outer.src / os.path.relpath(m.dst, outer.dst)
                    if not link.exists() and not link.is_symlink():
                        link.parent.mkdir(parents=True, exist_ok=True)
                        link.symlink_to(m.src)

    def popen(
        self,
        spec: LaunchSpec,
        *,
        stdin: int | IO | None,
        stdout: int | IO | None,
        stderr: int | IO | None,
    ) -> Process:
        self._link_nested(spec)
        cwd = self._host_path(spec, spec.cwd)
        env = {**os.environ, **gpu.sandbox_env(spec.gpus), **spec.env}
        if "RGYM_START_DIR" in env:
            env["RGYM_START_DIR"] = str(self._host_path(spec, env["RGYM_START_DIR"]))
        env["RGYM_STATE_DIR"] = str(cwd.parent / f".rgym-state-{os.getpid()}-{id(spec)}")
        env["HOME"] = str(cwd.parent)
        proc = start_jailed(
            spec.argv,
            spec.limits,
            "a local process",
            cwd=cwd,
            env=env,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            pass_fds=spec.pass_fds,
        )
        proc.limits_in_force["isolation"] = "none"
        return proc
