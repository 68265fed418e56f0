"""Starting a jailed process runs no Python between fork and exec: the cgroup (or the rlimit)
is applied by a /bin/sh trampoline. A `preexec_fn` would run in a child that inherited locks
held by the parent's other threads (JAX's and PyTorch's pools), and hang there, with Popen."""

from __future__ import annotations

import os
import subprocess

import pytest

from rgym.sandbox.base import SandboxLimits
from rgym.sandbox.limits import ResourceJail, start_jailed

_child_hook_armed = False


def _hang_like_a_held_lock() -> None:  # what a library's at-fork hook does with a held lock
    if _child_hook_armed:
        os._exit(99)


os.register_at_fork(after_in_child=_hang_like_a_held_lock)


def test_no_python_runs_in_the_child_before_exec():
    global _child_hook_armed
    _child_hook_armed = True
    try:
        proc = start_jailed(
            ["/bin/echo", "started"],
            SandboxLimits(memory_mb=256, pids=64, cpus=1.0),
            "a test process",
            stdout=subprocess.PIPE,
        )
    finally:
        _child_hook_armed = False
    out, _ = proc.popen.communicate(timeout=30)
    proc.kill()
    assert proc.popen.returncode == 0 and out == b"started\n"  # 99: Python ran in the child


def test_the_process_lands_in_its_cgroup_in_a_new_session():
    proc = start_jailed(
        ["/bin/sh", "-c", "cat /proc/self/cgroup; ps -o sid= -p $$"],
        SandboxLimits(memory_mb=256, pids=64, cpus=1.0),
        "a test process",
        stdout=subprocess.PIPE,
    )
    out, _ = proc.popen.communicate(timeout=30)
    mechanism = proc.limits_in_force["mechanism"]
    names = [cg.name for cg in proc.jail.paths]
    proc.kill()
    assert proc.popen.returncode == 0, out
    *cgroups, sid = out.decode().split()
    assert int(sid) == proc.popen.pid  # setsid: a session of its own
    if mechanism.startswith("cgroup"):
        assert names and all(any(n in line for line in cgroups) for n in names), out
    else:
        pytest.skip(f"no cgroup here ({mechanism}): nothing to join")


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_the_rlimit_fallback_caps_processes_with_either_shell(shell, tmp_path):
    """Without cgroups the trampoline lowers RLIMIT_NPROC: `ulimit -u` in bash, `-p` in dash."""
    if not any(os.access(f"{d}/{shell}", os.X_OK) for d in ("/bin", "/usr/bin")):
        pytest.skip(f"no {shell} here")
    jail = ResourceJail(SandboxLimits(memory_mb=None, pids=None, cpus=None))
    jail.mechanism, jail.nproc = "rlimit", 4321
    argv = jail.wrap(["/bin/cat", "/proc/self/limits"])
    assert argv[0] == "/bin/sh"
    argv[0] = shell
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("Max processes")]
    assert line.split()[2:4] == ["4321", "4321"]


def test_a_cgroup_that_cannot_be_joined_stops_the_command(tmp_path):
    jail = ResourceJail(SandboxLimits(memory_mb=None, pids=None, cpus=None))
    jail.mechanism, jail.paths = "cgroup1", [tmp_path / "no-such-cgroup"]
    out = subprocess.run(jail.wrap(["/bin/echo", "ran"]), capture_output=True, text=True)
    assert out.returncode == 125 and "ran" not in out.stdout
    assert "could not join the cgroup" in out.stderr
