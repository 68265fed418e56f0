"""Attacks: read host paths from process listings, and escape into a user namespace.

Before the fix, /proc/1/cmdline in the sandbox was bwrap's whole argument list (the host paths of
the workspace and the data cache), and `unshare -Ur` gave the agent root in a new user
namespace. Now bwrap reads its options from a memfd and the shell is pid 1; a seccomp filter
refuses user namespaces (unshare/clone with CLONE_NEWUSER: EPERM; clone3: ENOSYS), for 64-bit
and 32-bit system calls alike, and everything else still works.
"""

from __future__ import annotations

import os
import platform
import textwrap
from pathlib import Path

import pytest

from rgym.sandbox import (
    WORKSPACE,
    EpisodeSandbox,
    LaunchSpec,
    Mount,
    SandboxLimits,
    get_backend,
    make_episode_storage,
    seccomp,
)
from tests.conftest import requires_bwrap

pytestmark = requires_bwrap


@pytest.fixture
def episode(tmp_path):
    """A sandbox with a workspace in scratch storage and a read-only 'data cache' mount."""
    backend = get_backend("bwrap")
    storage = make_episode_storage(backend, 64, memory_mb=512)
    cache = tmp_path / "secret-cache-dir"
    cache.mkdir()
    (cache / "public.csv").write_text("a\n1\n")
    cache.chmod(0o755)
    sb = EpisodeSandbox(
        backend,
        LaunchSpec(
            argv=[],
            mounts=[
                Mount(storage.workspace, WORKSPACE, True),
                Mount(cache, f"{WORKSPACE}/data"),
            ],
            limits=SandboxLimits(memory_mb=512, pids=64),
        ),
        storage=storage,
    )
    yield sb, storage, cache
    sb.close()
    storage.close()


def test_no_host_path_in_any_process_listing(episode):
    sb, storage, cache = episode
    sb.exec("sleep 30 > /dev/null 2>&1 &")
    r = sb.exec("cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'")
    assert "shell_server.py" in r.output  # the listing was read
    for host in (storage.root, storage.workspace, cache, Path(storage.root).parent):
        assert str(host) not in r.output
    # on the host too: the bwrap process's command line carries no options
    cmdline = Path(f"/proc/{sb.process.popen.pid}/cmdline").read_bytes().decode()
    assert str(cache) not in cmdline and str(storage.workspace) not in cmdline
    assert "--args" in cmdline


def test_bwrap_option_fds_do_not_reach_the_sandbox(episode):
    sb, _, _ = episode
    r = sb.exec("python -c 'import os; print(sorted(os.listdir(\"/proc/self/fd\")))'")
    assert r.output.strip() == "['0', '1', '2', '3']"


def test_user_namespaces_are_refused(episode):
    sb, _, _ = episode
    r = sb.exec("unshare -Ur true; echo rc=$?")
    assert "Operation not permitted" in r.output and "rc=1" in r.output
    probe = textwrap.dedent(
        """\
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
        print("unshare", libc.unshare(CLONE_NEWUSER), ctypes.get_errno())
        print("unshare-ns", libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), ctypes.get_errno())
        clone3 = {"x86_64": 435, "aarch64": 435}[os.uname().machine]
        print("clone3", libc.syscall(clone3, 0, 0), ctypes.get_errno())
        """
    )
    sb.write_file("probe.py", probe)
    r = sb.exec("python probe.py")
    assert "unshare -1 1\n" in r.output  # EPERM
    assert "unshare-ns -1 1\n" in r.output
    assert "clone3 -1 38\n" in r.output  # ENOSYS
    assert sb.limits_in_force["userns"] == "blocked (seccomp)"


@pytest.mark.skipif(platform.machine() != "x86_64", reason="int 0x80 is x86 only")
def test_32bit_system_calls_are_filtered_too(episode):
    """A 64-bit process can make i386 system calls with `int 0x80`; their numbers differ."""
    sb, _, _ = episode
    probe = textwrap.dedent(
        """\
        import ctypes, mmap
        # push rbx; mov eax, 310 (i386 unshare); mov ebx, CLONE_NEWUSER; int 0x80; pop rbx; ret
        code = bytes.fromhex("53b836010000bb00000010cd805bc3")
        m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        m.write(code)
        fn = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
        print("int80", fn())
        """
    )
    sb.write_file("probe32.py", probe)
    r = sb.exec("python probe32.py")
    assert "int80 -1\n" in r.output, r.output  # -EPERM (0 would be a new user namespace)


def test_ordinary_work_still_runs(episode):
    sb, _, _ = episode
    script = textwrap.dedent(
        """\
        import concurrent.futures, multiprocessing, subprocess, threading
        t = threading.Thread(target=lambda: None); t.start(); t.join()
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            assert sum(ex.map(lambda x: x, range(10))) == 45
        with multiprocessing.Pool(2) as pool:
            assert pool.map(abs, [-1, -2]) == [1, 2]
        print(subprocess.run(["echo", "sub"], capture_output=True, text=True).stdout.strip())
        print("ok")
        """
    )
    sb.write_file("work.py", script)
    r = sb.exec("python work.py; (sleep 0.1 &); wait; ls data; echo done")
    assert r.output.split() == ["sub", "ok", "public.csv", "done"], r.output


def test_seccomp_program_per_arch():
    assert seccomp.program("sparc64") is None
    for machine in ("x86_64", "aarch64"):
        prog = seccomp.program(machine)
        assert prog is not None and len(prog) % 8 == 0


def test_unknown_arch_is_recorded_as_not_blocked(monkeypatch, tmp_path):
    monkeypatch.setattr(seccomp.platform, "machine", lambda: "riscv128")
    ws = tmp_path / "ws"
    ws.mkdir()
    ws.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(ws, 65534, 65534)
    sb = EpisodeSandbox(
        get_backend("bwrap"), LaunchSpec(argv=[], mounts=[Mount(ws, WORKSPACE, True)])
    )
    try:
        assert sb.limits_in_force["userns"].startswith("not blocked")
        assert sb.exec("echo ok").output == "ok\n"
    finally:
        sb.close()
