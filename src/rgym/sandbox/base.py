"""The sandbox contract, shared by every backend.

A backend knows one thing: how to start a process isolated in its own way (`popen`). Everything
else — the episode's persistent shell, timeouts that kill a process group, output caps — is
written once here, on top of `popen`, so every backend behaves the same.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shlex
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pydantic import BaseModel

from rgym.errors import SandboxUnavailable

INSIDE = Path(__file__).parent / "inside"
AGENT_HOME = "/home/agent"
WORKSPACE = f"{AGENT_HOME}/workspace"
OUTPUT_CAP = 100_000
"""Bytes of command output returned by default; head and tail are kept."""


@dataclass(frozen=True)
class Mount:
    """A host path made visible in the sandbox at `dst` (read-only unless `writable`)."""

    src: Path
    dst: str
    writable: bool = False


class SandboxLimits(BaseModel):
    cpus: float | None = 2.0
    memory_mb: int | None = 4096
    pids: int | None = 512


class ExecResult(BaseModel):
    """What one command did. A failed or timed-out command is a result, never an exception."""

    output: str
    exit_code: int
    timed_out: bool = False
    truncated: bool = False
    seconds: float = 0.0


@dataclass
class LaunchSpec:
    """Everything a backend needs to start one isolated process."""

    argv: list[str]
    mounts: list[Mount] = field(default_factory=list)
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    cwd: str = WORKSPACE
    env: dict[str, str] = field(default_factory=dict)
    network: bool = False
    hidden: list[Path] = field(default_factory=list)
    """Host paths inside a mounted tree that must not be visible (dataset packages, rgym itself)."""
    pass_fds: tuple[int, ...] = ()


class Backend(ABC):
    """One way of isolating processes. Subclasses implement `popen` and say what they enforce."""

    name: str = "?"
    isolated: bool = True

    @abstractmethod
    def popen(
        self,
        spec: LaunchSpec,
        *,
        stdin: int | IO | None,
        stdout: int | IO | None,
        stderr: int | IO | None,
    ) -> Process:
        """Start `spec.argv` isolated; raise SandboxUnavailable when that is impossible."""

    @abstractmethod
    def visible_path(self, mount: Mount) -> str:
        """Where the sandboxed process sees `mount` (its dst under isolation, its src locally)."""

    def hint(self, stderr: str) -> str:
        """Advice for a start-up failure, appended to the error (empty when there is none)."""
        return ""

    def python(self) -> str:
        """The interpreter the sandboxed process runs Python with."""
        return sys.executable


class Process:
    """A started sandboxed process plus whatever must be torn down with it (its cgroup)."""

    def __init__(self, popen: subprocess.Popen, cleanup=None, limits_in_force: dict | None = None):
        self.popen = popen
        self._cleanup = cleanup
        self.limits_in_force = limits_in_force or {}

    def kill(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, 9)
            except (ProcessLookupError, PermissionError):
                self.popen.kill()
            self.popen.wait()
        if self._cleanup:
            self._cleanup()
            self._cleanup = None


class EpisodeSandbox:
    """One sandbox for a whole episode: a persistent shell the env sends commands to.

    The working directory and exported variables persist from one command to the next;
    background processes live until `close()`. A timeout kills the command's process group and
    the episode goes on. Output longer than `cap` bytes keeps its head and tail with a note.
    """

    def __init__(self, backend: Backend, spec: LaunchSpec, cap: int = OUTPUT_CAP):
        self.backend = backend
        self.cap = cap
        self.workspace = spec.cwd
        server = Mount(INSIDE, "/opt/rgym-inside")
        spec.mounts = [*spec.mounts, server]
        spec.env = {"RGYM_START_DIR": spec.cwd, **spec.env}
        script = f"{backend.visible_path(server)}/shell_server.py"
        spec.argv = [backend.python(), "-u", script]
        if spec.limits.pids:
            spec.env.setdefault("RGYM_PIDS_LIMIT", str(spec.limits.pids))
        self.process = backend.popen(
            spec, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._p = self.process.popen
        hello = self._readline(timeout=30)
        if not hello or not json.loads(hello).get("ready"):
            self.process.kill()
            err = self._p.stderr.read().decode(errors="replace")[-2000:]
            raise SandboxUnavailable(
                f"the {backend.name} sandbox did not start: {err.strip()}{backend.hint(err)}"
            )

    @property
    def limits_in_force(self) -> dict:
        return self.process.limits_in_force

    def _readline(self, timeout: float | None) -> str | None:
        out = self._p.stdout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([out], [], [], left)
            if ready:
                line = out.readline()
                return line.decode() if line else None
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def exec(self, command: str, *, timeout: float = 600.0) -> ExecResult:
        """Run `command` in the episode's shell.

        Raises:
            SandboxUnavailable: the sandbox itself died (an infrastructure failure).
        """
        if self._p.poll() is not None:
            raise SandboxUnavailable("the sandbox has exited; the episode cannot continue")
        req = {"command": command, "timeout": timeout, "cap": self.cap}
        try:
            self._p.stdin.write((json.dumps(req) + "\n").encode())
            self._p.stdin.flush()
        except BrokenPipeError:
            raise SandboxUnavailable("the sandbox's shell stopped answering") from None
        line = self._readline(timeout=timeout + 30)
        if line is None:
            raise SandboxUnavailable("the sandbox's shell stopped answering")
        return ExecResult.model_validate_json(line)

    def read_file(self, path: str, *, text: bool = True) -> str | bytes:
        """Read a file as the agent sees it (relative paths from the current directory).

        Raises:
            FileNotFoundError: the file does not exist or cannot be read in the sandbox.
        """
        res = self.exec(f"base64 -w0 -- {shlex.quote(path)}", timeout=60)
        if res.exit_code != 0 or res.truncated:
            raise FileNotFoundError(f"{path}: {res.output.strip()[:200]}")
        data = base64.b64decode(res.output)
        return data.decode("utf-8", "replace") if text else data

    def write_file(self, path: str, contents: str | bytes) -> None:
        """Write a file inside the sandbox, as the agent (owner and permissions are the agent's)."""
        data = contents.encode() if isinstance(contents, str) else contents
        encoded = base64.b64encode(data).decode()
        res = self.exec(f"printf %s {encoded} | base64 -d > {shlex.quote(path)}", timeout=60)
        if res.exit_code != 0:
            raise OSError(f"could not write {path}: {res.output.strip()[:200]}")

    def close(self) -> None:
        try:
            if self._p.stdin:
                self._p.stdin.close()
        except OSError:
            pass
        self.process.kill()

    def __enter__(self) -> EpisodeSandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
