"""The sandbox contract, shared by every backend.

A backend knows one thing: how to start a process isolated in its own way (`popen`). Everything
else — the episode's persistent shell, timeouts that kill a process group, output caps — is
written once here, on top of `popen`, so every backend behaves the same.
"""

from __future__ import annotations

import base64
import json
import math
import os
import select
import shlex
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from pydantic import BaseModel

from rgym.errors import SandboxProtocolError, SandboxUnavailable

if TYPE_CHECKING:
    from rgym.sandbox.storage import EpisodeStorage

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


def compute_env(cpus: float | None) -> dict[str, str]:
    """Thread counts for numerical libraries, set to the sandbox's CPU quota: left alone, they
    start one thread per host core and thrash under the quota. JAX must not take most of the
    GPU's (or the host's) memory up front, as the sandbox's memory limit would kill it."""
    n = str(max(1, math.ceil(cpus))) if cpus else None
    env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    if n:
        env |= {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n}
    return env


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
    tmp_dir: Path | None = None
    """Host folder bound at /tmp (an EpisodeStorage's, under its disk limit); None: a tmpfs."""
    shm_dir: Path | None = None
    """Host folder bound at /dev/shm; None: a tmpfs."""
    tmpfs_mb: int | None = None
    """Size of the sandbox's own /tmp and /dev/shm tmpfs when they are not bound (None: unsized)."""
    gpus: list[str] = field(default_factory=list)
    """GPU ids the sandbox may use (rgym.sandbox.gpu.choose); none: it sees no GPU at all."""
    shell: bool = False
    """This process is the episode's shell server: it runs as the sandbox's pid 1 (which the
    agent's processes cannot signal) with a private folder for its state and command output."""


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

    def __init__(
        self,
        popen: subprocess.Popen,
        cleanup=None,
        limits_in_force: dict | None = None,
        jail: object | None = None,
    ):
        self.popen = popen
        self._cleanup = cleanup
        self.limits_in_force = limits_in_force or {}
        self.jail = jail
        """The ResourceJail holding the process (its cgroup: OOM counts, memory use)."""

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


REPLY_SLACK = 64 * 1024
"""Bytes a reply may hold beyond its JSON-escaped output (fields, notes)."""
STDERR_TAIL = 64 * 1024


class EpisodeSandbox:
    """One sandbox for a whole episode: a persistent shell the env sends commands to.

    The working directory and exported variables persist from one command to the next;
    background processes live until `close()`. A timeout kills the command's process group and
    the episode goes on. Output longer than `cap` bytes keeps its head and tail with a note.

    Nothing read from the sandbox is trusted: a reply is read up to a bound, decoded with
    replacement and validated; anything else is a SandboxProtocolError. When the sandbox dies,
    `exec` raises SandboxUnavailable whose `cause` ("agent" or "host") and `evidence` come from
    `death_cause()`.
    """

    def __init__(
        self,
        backend: Backend,
        spec: LaunchSpec,
        cap: int = OUTPUT_CAP,
        storage: EpisodeStorage | None = None,
    ) -> None:
        """Start the shell. `storage` (from `make_episode_storage`) gives the sandbox its
        /tmp and /dev/shm under the episode's disk limit; it outlives the sandbox (the env
        grades the workspace after a death) and its owner closes it."""
        self.backend = backend
        self.cap = cap
        self.workspace = spec.cwd
        self.storage = storage
        if storage is not None:
            for key, value in storage.launch_fields().items():
                if getattr(spec, key) is None:
                    setattr(spec, key, value)
        # a JSON-escaped byte takes at most 6 characters (\u00XX)
        self.max_reply = 6 * cap + REPLY_SLACK
        self._memory_mb = spec.limits.memory_mb
        server = Mount(INSIDE, "/opt/rgym-inside")
        spec.mounts = [*spec.mounts, server]
        spec.env = {"RGYM_START_DIR": spec.cwd, **spec.env}
        spec.shell = True
        script = f"{backend.visible_path(server)}/shell_server.py"
        # -I: the shell ignores PYTHON* variables and user site-packages the agent could set
        spec.argv = [backend.python(), "-I", "-S", "-u", script]  # stdlib only: no site
        if spec.limits.pids:
            spec.env.setdefault("RGYM_PIDS_LIMIT", str(spec.limits.pids))
        self._buf = bytearray()
        self._death: tuple[str, str] | None = None
        self.process = backend.popen(
            spec, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._p = self.process.popen
        self._out = self._p.stdout.fileno()
        self._ooms_seen = self._oom_kills() or 0
        hello = None
        try:
            line = self._readline(timeout=30)
            hello = json.loads(line.decode("utf-8", "replace")) if line else None
        except (SandboxProtocolError, ValueError):
            pass
        if not isinstance(hello, dict) or not hello.get("ready"):
            self.process.kill()
            err = self._stderr_tail()
            raise SandboxUnavailable(
                f"the {backend.name} sandbox did not start: {err.strip()}{backend.hint(err)}",
                cause="host",
                evidence=err.strip()[-500:],
            )
        self.shell_in_force = {
            "shell": str(hello.get("shell", "unknown"))[:100],
            "gpus": ",".join(spec.gpus) or "none",
        }

    @property
    def limits_in_force(self) -> dict:
        extra = dict(self.storage.in_force) if self.storage is not None else {}
        return {**self.process.limits_in_force, **extra, **self.shell_in_force}

    # --- reading from the sandbox, bounded --------------------------------------------------

    def _readline(self, timeout: float | None) -> bytes | None:
        """One reply line (without its newline), at most `max_reply` bytes; None on EOF or
        when `timeout` passes first.

        Raises:
            SandboxProtocolError: the line is longer than any honest reply can be.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                if len(line) > self.max_reply:
                    raise SandboxProtocolError(
                        f"the sandbox's shell sent a {len(line)}-byte reply (at most "
                        f"{self.max_reply} expected)",
                        cause="host",
                        evidence="oversized reply",
                    )
                return line
            if len(self._buf) > self.max_reply:
                raise SandboxProtocolError(
                    f"the sandbox's shell sent more than {self.max_reply} bytes without ending "
                    "its reply",
                    cause="host",
                    evidence="oversized reply",
                )
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._out], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._out, 1 << 20)
            if not chunk:
                return None
            self._buf += chunk

    def _stderr_tail(self) -> str:
        """What the sandbox wrote to stderr, read without blocking and bounded."""
        err = self._p.stderr
        if err is None:
            return ""
        data = b""
        try:
            fd = err.fileno()
            os.set_blocking(fd, False)
            while len(data) < 4 * STDERR_TAIL:
                chunk = os.read(fd, STDERR_TAIL)
                if not chunk:
                    break
                data += chunk
        except (OSError, ValueError):
            pass
        return data[-STDERR_TAIL:].decode("utf-8", "replace")

    # --- why a sandbox died -----------------------------------------------------------------

    def _oom_kills(self) -> int | None:
        jail = self.process.jail
        return jail.oom_kills() if jail is not None else None

    def death_cause(self) -> tuple[str, str]:
        """("agent" | "host", evidence) for a sandbox that died or stopped answering.

        Judged from what the kernel recorded, never assumed: the memory cgroup's OOM kills since
        the last good reply, memory at its limit, the disk limit full, how the shell ended. The
        agent's processes cannot signal or trace the shell (it is the pid namespace's init and
        not dumpable), so a shell killed by a signal without an OOM kill was killed from
        outside: the host. Under the local backend nothing protects the shell, so its death by
        a signal may be the agent's.
        """
        if self._death is not None:
            return self._death
        try:
            rc = self._p.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            rc = None
        facts: list[str] = []
        agent = False
        if rc is None:
            facts.append("the shell was still running but stopped answering")
        elif rc < 0:
            facts.append(f"the sandbox was killed by signal {_signame(-rc)} from the host side")
        elif rc > 128:
            facts.append(f"the sandbox's shell was killed by signal {_signame(rc - 128)}")
        else:
            facts.append(f"the sandbox's shell exited with code {rc}")
        ooms = self._oom_kills()
        if ooms is not None and ooms > self._ooms_seen:
            agent = True
            facts.append(
                f"the memory limit ({self._memory_mb} MiB) was reached: the kernel's OOM "
                f"killer ran {ooms - self._ooms_seen} time(s) in the sandbox since the last reply"
            )
        mem = self.process.jail.memory_usage() if self.process.jail is not None else None
        if mem and mem[1] and mem[0] >= 0.95 * mem[1]:
            facts.append(f"memory in use: {mem[0] >> 20} of {mem[1] >> 20} MiB")
            if rc is None:
                agent = True
        if self.storage is not None and self.storage.full():
            used, total = self.storage.usage() or (0, 0)
            facts.append(f"the disk limit is full ({used >> 20} of {total >> 20} MiB)")
        if not self.backend.isolated and rc is not None and rc != 0 and not agent:
            agent = True
            facts.append(f"the {self.backend.name} backend does not protect its shell")
        err = self._stderr_tail().strip() if rc is not None else ""
        if err:
            facts.append(f"shell stderr: {err[-300:]}")
        self._death = ("agent" if agent else "host", "; ".join(facts))
        return self._death

    def _dead(self, message: str) -> SandboxUnavailable:
        """The exception for a dead sandbox, with its cause; the sandbox is stopped."""
        cause, evidence = self.death_cause()
        self.process.kill()
        return SandboxUnavailable(f"{message} ({evidence})", cause=cause, evidence=evidence)

    # --- commands ---------------------------------------------------------------------------

    def exec(self, command: str, *, timeout: float = 600.0) -> ExecResult:
        """Run `command` in the episode's shell.

        Raises:
            SandboxUnavailable: the sandbox itself died; `cause` and `evidence` say why.
            SandboxProtocolError: its reply was malformed (the sandbox is stopped).
        """
        if self._death is not None or self._p.poll() is not None:
            raise self._dead("the sandbox has exited; the episode cannot continue")
        req = {"command": command, "timeout": timeout, "cap": self.cap}
        try:
            self._p.stdin.write((json.dumps(req) + "\n").encode())
            self._p.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise self._dead("the sandbox's shell stopped answering") from None
        try:
            line = self._readline(timeout=timeout + 30)
        except SandboxProtocolError as e:
            self._death = ("host", e.evidence)
            self.process.kill()
            raise
        if line is None:
            raise self._dead("the sandbox's shell stopped answering")
        try:
            result = ExecResult.model_validate_json(line.decode("utf-8", "replace"))
        except ValueError as e:  # pydantic's ValidationError is a ValueError
            self._death = ("host", "malformed reply")
            self.process.kill()
            raise SandboxProtocolError(
                f"the sandbox's shell sent a malformed reply: {str(e)[:200]}",
                cause="host",
                evidence="malformed reply",
            ) from None
        ooms = self._oom_kills()
        if ooms is not None:
            self._ooms_seen = ooms
        return result

    def read_file(self, path: str, *, text: bool = True) -> str | bytes:
        """Read a file as the agent sees it (relative paths from the current directory).

        Raises:
            FileNotFoundError: the file does not exist or cannot be read in the sandbox.
        """
        res = self.exec(f"base64 -w0 -- {shlex.quote(path)}", timeout=60)
        if res.exit_code != 0 or res.truncated:
            raise FileNotFoundError(f"{path}: {res.output.strip()[:200]}")
        try:
            data = base64.b64decode(res.output, validate=True)
        except ValueError:
            raise FileNotFoundError(f"{path}: could not be read back") from None
        return data.decode("utf-8", "replace") if text else data

    def write_file(self, path: str, contents: str | bytes) -> None:
        """Write a file inside the sandbox, as the agent (owner and permissions are the agent's)."""
        data = contents.encode() if isinstance(contents, str) else contents
        encoded = base64.b64encode(data).decode()
        res = self.exec(f"printf %s {encoded} | base64 -d > {shlex.quote(path)}", timeout=60)
        if res.exit_code != 0:
            raise OSError(f"could not write {path}: {res.output.strip()[:200]}")

    def close(self) -> None:
        """Stop the sandbox and everything in it. The storage (workspace) is its owner's to
        close: it outlives the sandbox so the artefact can still be graded."""
        try:
            if self._p.stdin:
                self._p.stdin.close()
        except OSError:
            pass
        self.process.kill()
        for f in (self._p.stdout, self._p.stderr):
            try:
                if f:
                    f.close()
            except OSError:
                pass

    def __enter__(self) -> EpisodeSandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _signame(num: int) -> str:
    try:
        return f"{signal.Signals(num).name} ({num})"
    except ValueError:
        return str(num)
