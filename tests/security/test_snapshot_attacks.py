"""Attacks on grading replayed through the real env, sandboxes and graders: a setuid artefact, a
sparse 1 GiB artefact, a fifo artefact, and a crashing grader whose traceback quotes its source.

Before the fix: the run record kept a setuid-root copy of an agent file (copy2 keeps mode bits);
`truncate -s 256M submission.csv; validate` read a newline-less line into host memory and put a
268M-character message into the observation; a fifo blocked the host's read; and a grader's
traceback (its source lines) was shown to the agent."""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
from pathlib import Path

import yaml

import rgym
from rgym.grading.runner import MESSAGE_CAP, GradeStatus, grade
from rgym.runs.record import RunRecord
from rgym.runs.runner import RunConfig, run
from rgym.sandbox import get_backend
from rgym.sandbox.scratch import owner_dir
from rgym.tasks.data import prepare_data
from rgym.tasks.spec import Graders, GraderSpec
from tests.conftest import requires_bwrap

pytestmark = requires_bwrap

MB = 1 << 20
GOOD_CSV = (
    'awk -F, \'NR == 1 {print "PassengerId,Survived"; next} '
    '{print $1 "," ($3 == "female")}\' data/test.csv > submission.csv'
)


def _status(field: str) -> int:
    """A field of /proc/self/status, in bytes."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1)) * 1024


def _wchar() -> int:
    """Bytes this process has passed to write() so far (any file, any disk)."""
    return int(re.search(r"^wchar: (\d+)", Path("/proc/self/io").read_text(), re.M).group(1))


def _big_files(root: Path, over: int) -> list[Path]:
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file() and p.lstat().st_size > over]


def test_setuid_artifact_is_saved_plain(tmp_path):
    actions = tmp_path / "actions.yaml"
    actions.write_text(
        yaml.safe_dump(
            [f"{GOOD_CSV} && chmod 6755 submission.csv && ls -l submission.csv", "submit"]
        )
    )
    result = run(
        RunConfig(task="titanic", agent="replay", actions=actions, runs_dir=tmp_path / "runs")
    )
    assert result.exit_status == "submitted", result.message
    saved = result.run_dir / "artifact" / "submission.csv"
    st = saved.lstat()
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644
    assert st.st_uid == os.geteuid()
    assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)


def test_setuid_artifact_is_saved_plain_from_the_graded_snapshot(tmp_path):
    """The wiring env/runner should use: grade(..., keep=K) then save_artifact(K, rel)."""
    env = rgym.make("titanic")
    try:
        env.reset()
        env.step(f"{GOOD_CSV} && cp /bin/true tool && chmod 6755 submission.csv")
        keep = tmp_path / "keep"
        g = grade(env.spec_, "default", env.workspace, "test", env.backend, env.data, keep=keep)
        assert g.ok, g.message
        assert sorted(os.listdir(keep)) == ["submission.csv"]
        record = RunRecord(tmp_path / "run")
        saved = record.save_artifact(keep, "submission.csv")
        record.close()
        for p in (keep / "submission.csv", saved):
            st = p.lstat()
            assert stat.S_IMODE(st.st_mode) == 0o644 and st.st_uid == os.geteuid(), p
        assert g.artifact_bytes == saved.stat().st_size
    finally:
        env.close()


def test_sparse_1gib_artifact_is_refused_by_size(tmp_path):
    marks: dict[str, int] = {}

    def on_step(n, action, observation, info):
        if n == 1:  # the sparse file exists; from here on nothing may read or copy it
            Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM)
            marks.update(rss=_status("VmRSS"), wchar=_wchar(), t=time.monotonic())
        if n == 2:
            marks["validate_s"] = time.monotonic() - marks["t"]

    actions = tmp_path / "actions.yaml"
    actions.write_text(
        yaml.safe_dump(["truncate -s 1G submission.csv && ls -ls submission.csv", "validate"])
    )
    result = run(
        RunConfig(task="titanic", agent="replay", actions=actions, runs_dir=tmp_path / "runs"),
        on_step=on_step,
    )
    growth = _status("VmHWM") - marks["rss"]
    written = _wchar() - marks["wchar"]
    print(
        f"\nhost peak RSS growth {growth / 1024:.0f} kB, bytes written {written}, "
        f"validate {marks['validate_s'] * 1000:.1f} ms"
    )
    assert growth < 50 * MB
    assert written < 10 * MB  # events and result.json only; never the artefact
    assert result.exit_status == "invalid_artifact"
    assert "64 MB" in result.message and len(result.message) <= MESSAGE_CAP
    events = (result.run_dir / "events.jsonl").read_text()
    validate_obs = [line for line in events.splitlines() if '"type": "evaluation"' in line]
    assert len(validate_obs) == 2 and all('"invalid_artifact"' in e for e in validate_obs)
    assert all("64 MB" in e and len(e) < 5000 for e in validate_obs)
    assert not (result.run_dir / "artifact").exists()
    limit = rgym.spec("titanic").artifact.max_bytes
    assert _big_files(result.run_dir, limit) == []
    assert _big_files(owner_dir(), limit) == []


def test_fifo_artifact_does_not_block():
    env = rgym.make("titanic")
    try:
        env.reset()
        env.step("mkfifo submission.csv")
        t = time.monotonic()
        obs = env.step("validate")[0]
        assert time.monotonic() - t < 30
        assert "invalid_artifact" in obs and "pipe" in obs, obs
        info = env.step("submit")[4]
        assert info["exit_status"] == "invalid_artifact"
    finally:
        env.close()


CRASH = """\
import rgym_grade


def main(args):
    answers = {"real": 1}
    return answers["missing key"]  # GRADER-SOURCE-MARKER: this line must not reach the agent


if __name__ == "__main__":
    rgym_grade.run(main)
"""


def test_grader_traceback_not_shown_to_agent(tmp_path):
    spec = rgym.spec("titanic")
    data = prepare_data(spec, "default")
    task = tmp_path / "titanic"
    shutil.copytree(spec.root, task)
    (task / "grader" / "crash.py").write_text(CRASH)
    broken = spec.model_copy(
        update={"root": task, "graders": Graders(dev=GraderSpec(script="grader/crash.py"))}
    )
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "submission.csv").write_text("PassengerId,Survived\n1,0\n")
    g = grade(broken, "default", ws, "dev", get_backend("bwrap"), data)
    assert g.status == GradeStatus.grader_error
    assert "KeyError: 'missing key'" in g.message
    for leak in ("GRADER-SOURCE-MARKER", "Traceback", 'File "', "answers["):
        assert leak not in g.message
    assert len(g.message) <= MESSAGE_CAP
    # the whole traceback is kept for the run record, apart from the agent's view
    assert "GRADER-SOURCE-MARKER" in g.detail and "Traceback" in g.detail
    assert g.artifact_sha256 and g.artifact_bytes == 25


def test_an_artifact_just_under_the_limit_is_still_graded():
    """The limit refuses giants only: a 63.7 MB submission is copied, read and scored the same."""
    env = rgym.make("titanic")
    try:
        env.reset()
        env.step(GOOD_CSV)
        small = env.step("validate")[0]
        # 522 rows of 128 kB: 63.7 MB, under the 64 MB default for csv
        obs = env.step(
            "python -c \"import pandas as pd; d = pd.read_csv('submission.csv'); "
            "d['note'] = 'x' * 128_000; d.to_csv('submission.csv', index=False)\""
            " && stat -c %s submission.csv"
        )[0]
        assert 63 * MB < int(obs.split()[0]) < 64 * MB, obs
        t = time.monotonic()
        big = env.step("validate")[0]
        print(f"\nvalidate of a 63.7 MB submission: {time.monotonic() - t:.2f} s")
        assert small.startswith("Dev split") and big.split("(")[0] == small.split("(")[0], big
    finally:
        env.close()
