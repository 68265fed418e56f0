"""Leftovers after a crash: a SIGKILLed rgym's workspace, mounts and cgroups.

Before the fix they stayed forever (workspaces in /tmp, cgroups named without an owner). Now
every episode lives in the process's flock-ed scratch folder and its cgroups carry the owner's
id, so the next rgym to start a backend removes them, and never touches a live process's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import requires_bwrap

pytestmark = [
    requires_bwrap,
    pytest.mark.skipif(os.geteuid() != 0, reason="episode mounts and cgroups need root"),
]

ROOT = Path(__file__).resolve().parents[2]

EPISODE = textwrap.dedent(
    """\
    import json, sys
    from rgym.sandbox import (WORKSPACE, EpisodeSandbox, LaunchSpec, Mount, SandboxLimits,
                              get_backend, make_episode_storage, scratch)
    backend = get_backend("bwrap")
    storage = make_episode_storage(backend, 64, memory_mb=512)
    sb = EpisodeSandbox(backend, LaunchSpec(argv=[],
                        mounts=[Mount(storage.workspace, WORKSPACE, True)],
                        limits=SandboxLimits(memory_mb=512, pids=64)), storage=storage)
    sb.exec("echo hi > note.txt; sleep 300 > /dev/null 2>&1 &")
    print(json.dumps({"owner": scratch.owner_id(), "root": str(storage.root),
                      "workspace": str(storage.workspace),
                      "cgroups": [str(p) for p in sb.process.jail.paths],
                      "bwrap": sb.process.popen.pid}), flush=True)
    for line in sys.stdin:
        print(sb.exec(line.strip()).output.strip(), flush=True)
    sb.close()
    storage.close()
    """
)

ENV_EPISODE = textwrap.dedent(
    """\
    import json, sys, time
    import rgym
    from rgym.sandbox import scratch
    env = rgym.make("titanic")
    env.reset()
    env.step("echo hi > note.txt")
    print(json.dumps({"owner": scratch.owner_id(), "workspace": str(env.workspace),
                      "wired": str(env.workspace).startswith(str(scratch.scratch_root())),
                      "cgroups": [str(p) for p in env.sandbox.process.jail.paths],
                      "bwrap": env.sandbox.process.popen.pid}), flush=True)
    print("READY", flush=True)
    time.sleep(600)
    """
)

REAPER = textwrap.dedent(
    """\
    import json
    from rgym.sandbox import get_backend, scratch
    get_backend("bwrap")
    print(json.dumps({"owner": scratch.owner_id()}))
    """
)


def _env(scratch_dir: Path) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH") or str(ROOT / "src")
    return {**os.environ, "RGYM_SCRATCH": str(scratch_dir), "PYTHONPATH": path}


def _start(code: str, scratch_dir: Path) -> tuple[subprocess.Popen, dict]:
    p = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_env(scratch_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline()
    if not line:
        p.kill()
        pytest.fail("the episode process did not start")
    return p, json.loads(line)


def _reap(scratch_dir: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", REAPER],
        cwd=ROOT,
        env=_env(scratch_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)["owner"]


def _mounts_under(path: str) -> list[str]:
    return [
        line.split()[1]
        for line in Path("/proc/self/mounts").read_text().splitlines()
        if line.split()[1].startswith(path)
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def _assert_gone(info: dict, scratch_dir: Path) -> None:
    owner_dir = scratch_dir / info["owner"]
    assert not owner_dir.exists()
    assert not (scratch_dir / f"{info['owner']}.lock").exists()
    assert not Path(info["workspace"]).exists()
    assert _mounts_under(str(owner_dir)) == []
    for cg in info["cgroups"]:
        assert not Path(cg).exists(), cg


def _stop(proc: subprocess.Popen, scratch_dir: Path) -> None:
    """Whatever a failed test left: kill the episode process and reap its folders."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    _reap(scratch_dir)


def _crash_and_reap(proc: subprocess.Popen, info: dict, scratch_dir: Path) -> None:
    assert Path(info["workspace"], "note.txt").read_text() == "hi\n"
    assert _mounts_under(str(scratch_dir / info["owner"])), "the episode storage is not mounted"
    assert info["cgroups"] and all(Path(cg).is_dir() for cg in info["cgroups"])
    assert all(f"rgym-{info['owner']}-" in cg for cg in info["cgroups"])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while _alive(info["bwrap"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(info["bwrap"]), "the sandbox outlived its rgym process"
    # the dead process's folders are all still there until another rgym starts
    assert (scratch_dir / info["owner"]).exists()
    assert _reap(scratch_dir) != info["owner"]
    _assert_gone(info, scratch_dir)


def test_a_killed_episode_is_cleaned_up_by_the_next_start(tmp_path):
    scratch_dir = tmp_path / "scratch"
    proc, info = _start(EPISODE, scratch_dir)
    try:
        _crash_and_reap(proc, info, scratch_dir)
    finally:
        _stop(proc, scratch_dir)


def test_a_killed_env_is_cleaned_up_by_the_next_start(tmp_path):
    scratch_dir = tmp_path / "scratch"
    proc, info = _start(ENV_EPISODE, scratch_dir)
    try:
        assert proc.stdout.readline().strip() == "READY"
        if not info["wired"]:
            pytest.skip("env.py does not make its workspace with make_episode_storage yet")
        _crash_and_reap(proc, info, scratch_dir)
    finally:
        _stop(proc, scratch_dir)


def test_reaping_never_touches_a_live_process(tmp_path):
    scratch_dir = tmp_path / "scratch"
    proc, info = _start(EPISODE, scratch_dir)
    try:
        _reap(scratch_dir)
        _reap(scratch_dir)
        assert Path(info["workspace"], "note.txt").read_text() == "hi\n"
        assert _mounts_under(info["root"])
        assert all(Path(cg).is_dir() for cg in info["cgroups"])
        assert _alive(info["bwrap"])
        proc.stdin.write("cat note.txt; echo step\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "hi"
        assert proc.stdout.readline().strip() == "step"
        # a clean exit removes its own folder
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
        assert not (scratch_dir / info["owner"]).exists()
        assert _mounts_under(info["root"]) == []
        assert all(not Path(cg).exists() for cg in info["cgroups"])
    finally:
        _stop(proc, scratch_dir)


def test_an_exit_without_close_leaves_nothing(tmp_path):
    scratch_dir = tmp_path / "scratch"
    no_close = EPISODE.split("for line in sys.stdin")[0]  # neither sb nor storage closed
    proc, info = _start(no_close, scratch_dir)
    try:
        assert proc.wait(timeout=60) == 0
        _assert_gone(info, scratch_dir)
        assert not _alive(info["bwrap"])
    finally:
        _stop(proc, scratch_dir)


def test_empty_cgroups_of_dead_owners_are_removed_whatever_their_scratch_root(monkeypatch):
    from rgym.sandbox import scratch

    base = Path("/sys/fs/cgroup/memory")
    if not (base / "cgroup.procs").exists():
        base = Path("/sys/fs/cgroup")
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = base / f"rgym-{dead.pid}-0123abcd-0123456789ab"
    kept = base / f"rgym-{os.getpid()}-0123abcd-0123456789ab"
    try:
        gone.mkdir()
        kept.mkdir()
    except OSError as e:
        pytest.skip(f"cannot make cgroups here: {e}")
    try:
        scratch._orphan_cgroups()
        assert gone.exists()  # too new: it may be about to get its first process
        monkeypatch.setattr(scratch, "ORPHAN_AGE", 0.0)
        scratch._orphan_cgroups()
        assert not gone.exists()
        assert kept.exists()  # its owner (this process) is alive
    finally:
        for cg in (gone, kept):
            if cg.exists():
                cg.rmdir()
