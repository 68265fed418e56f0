"""Attack: fill the host's disk or memory through the workspace, /tmp or /dev/shm.

Before the fix, a 1 GiB dd into the workspace succeeded (no limit at all), and /tmp and /dev/shm
were unsized tmpfs: filling them OOM-killed the sandbox. Now the three share one limit
(`resources.disk_mb`); past it writes fail with ENOSPC, the host holds no more than the limit,
and the episode goes on with the artefact intact.
"""

from __future__ import annotations

import os
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
)
from tests.conftest import requires_bwrap

pytestmark = requires_bwrap
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the shared disk limit needs root")


def _mounted(path: Path) -> bool:
    return any(
        line.split()[1] == str(path) for line in Path("/proc/self/mounts").read_text().splitlines()
    )


@pytest.fixture
def episode():
    backend = get_backend("bwrap")
    storage = make_episode_storage(backend, 64, memory_mb=512)
    sb = EpisodeSandbox(
        backend,
        LaunchSpec(
            argv=[],
            mounts=[Mount(storage.workspace, WORKSPACE, True)],
            limits=SandboxLimits(memory_mb=512, pids=64),
        ),
        storage=storage,
    )
    yield sb, storage
    sb.close()
    storage.close()


@as_root
def test_a_1gib_write_stops_at_the_limit_and_the_episode_goes_on(episode):
    sb, storage = episode
    assert sb.exec("printf 'id,y\\n1,0\\n' > submission.csv").exit_code == 0
    r = sb.exec("dd if=/dev/zero of=big bs=1M count=1024 2>&1; echo rc=$?", timeout=60)
    assert "No space left" in r.output and "rc=1" in r.output
    used, total = storage.usage()
    assert total <= 64 << 20 and used <= total
    # the host's view: the workspace tmpfs holds at most the limit
    st = os.statvfs(storage.workspace)
    assert st.f_blocks * st.f_frsize <= 64 << 20
    assert sb.exec("echo alive").output == "alive\n"
    assert (storage.workspace / "submission.csv").read_text() == "id,y\n1,0\n"
    assert storage.full()


@as_root
def test_workspace_tmp_and_shm_share_one_limit(episode):
    sb, storage = episode
    r = sb.exec(
        "dd if=/dev/zero of=a bs=1M count=30 2>/dev/null; "
        "dd if=/dev/zero of=/tmp/b bs=1M count=30 2>/dev/null; "
        "dd if=/dev/zero of=/dev/shm/c bs=1M count=30 2>&1; echo rc=$?"
    )
    assert "No space left" in r.output and "rc=1" in r.output
    r = sb.exec("rm -f a /dev/shm/c; dd if=/dev/zero of=/dev/shm/c bs=1M count=20 2>&1; echo rc=$?")
    assert "rc=0" in r.output
    assert sb.limits_in_force["disk_mb"] == 64


@as_root
def test_storage_is_unmounted_and_removed_on_close():
    backend = get_backend("bwrap")
    storage = make_episode_storage(backend, 32)
    (storage.workspace / "f").write_text("x")
    assert _mounted(storage.root)
    storage.close()
    assert not _mounted(storage.root)
    assert not storage.root.exists()


@as_root
def test_the_limit_stays_below_the_memory_limit():
    """tmpfs pages are the sandbox's memory: a disk as big as the memory limit, once full, would
    leave the OOM killer only the shell to kill."""
    storage = make_episode_storage(get_backend("bwrap"), 2048, memory_mb=512)
    try:
        assert storage.in_force["disk_mb"] == 256
        assert storage.in_force["disk_requested_mb"] == 2048
        assert storage.usage()[1] == 256 << 20
    finally:
        storage.close()


def test_no_limit_under_the_local_backend_and_it_says_so():
    storage = make_episode_storage(get_backend("local"), 64)
    try:
        assert storage.tmp is None and storage.usage() is None
        assert "none" in storage.in_force["disk"]
    finally:
        storage.close()


def test_unprivileged_fallback_sizes_tmp_and_shm(monkeypatch):
    """Not root: /tmp and /dev/shm get a sized tmpfs each from bwrap; the workspace is
    unlimited, and in_force says so."""
    import rgym.sandbox.storage as storage_mod

    monkeypatch.setattr(storage_mod.os, "geteuid", lambda: 1000)
    backend = get_backend("bwrap")
    storage = make_episode_storage(backend, 64, memory_mb=512)
    monkeypatch.undo()
    try:
        assert storage.in_force["tmp_mb"] == 32 and "NO limit" in storage.in_force["disk"]
        sb = EpisodeSandbox(
            backend,
            LaunchSpec(
                argv=[],
                mounts=[Mount(storage.workspace, WORKSPACE, True)],
                limits=SandboxLimits(memory_mb=512, pids=64),
            ),
            storage=storage,
        )
        try:
            r = sb.exec("dd if=/dev/zero of=/tmp/x bs=1M count=100 2>&1; df -m /dev/shm")
            assert "No space left" in r.output
            assert " 32 " in r.output.splitlines()[-1]
        finally:
            sb.close()
    finally:
        storage.close()
