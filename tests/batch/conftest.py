"""Helpers for the batch tests: reading a batch folder, waiting on it, starting `rgym batch`
as a terminal would (its own session, so a Ctrl-C goes to its process group), and tmpfs
mounts for the disk tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

RGYM = [sys.executable, "-m", "rgym.cli"]


def read_state(out: Path) -> list[dict]:
    path = Path(out) / "state.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(what: str, check: Callable[[], object], timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def start_batch(args: list[str], cwd: Path) -> subprocess.Popen:
    """`rgym batch ARGS` in a new session (as a shell's foreground job would be)."""
    return subprocess.Popen(
        [*RGYM, "batch", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def result_of(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "result.json").read_text())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def tmpfs(tmp_path):
    """A factory of small tmpfs mounts (root only); unmounted after the test."""
    mounts: list[Path] = []

    def make(size: str = "1m", readonly: bool = False) -> Path:
        where = tmp_path / f"mnt{len(mounts)}"
        where.mkdir()
        opts = f"size={size}" + (",ro" if readonly else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounts.append(where)
        return where

    yield make
    for where in mounts:
        subprocess.run(["umount", "-l", str(where)], check=False)
