"""Attacks on the host-side copy of the artefact, replayed on `rgym.grading.snapshot` directly:
hostile files an agent can leave in its workspace (links, pipes, sockets, hard links to other
users' files, setuid bits, sparse giants, endless folders) must be refused or copied plain, and
never read through, blocked on, or quoted back."""

from __future__ import annotations

import os
import secrets
import socket
import stat
import threading
from pathlib import Path

import pytest

import rgym
from rgym.grading.runner import MESSAGE_CAP, Grade, check_artifact, snapshot_artifact
from rgym.grading.snapshot import (
    MAX_DEPTH,
    Snapshot,
    SnapshotRefused,
    copy_plain,
    snapshot_tree,
    take_snapshot,
)
from rgym.runs.record import RunRecord

MB = 1 << 20
AGENT = 65534
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (files of another user)")


@pytest.fixture
def canary(tmp_path) -> tuple[Path, str]:
    """A root-only (0600) host file holding a random string no output may ever contain."""
    text = "CANARY" + secrets.token_hex(12)
    path = tmp_path / "host-secret.txt"
    path.write_text(f"{text},{text}\n")
    path.chmod(0o600)
    return path, text


@pytest.fixture
def ws(tmp_path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def _snap(ws: Path, into: Path, rel: str = "submission.csv", **kw) -> Snapshot:
    kw.setdefault("max_bytes", 64 * MB)
    kw.setdefault("expect", "file")
    return take_snapshot(ws, rel, into, **kw)


def _only_plain(root: Path) -> None:
    uid = os.geteuid()
    for p in [root, *root.rglob("*")]:
        st = p.lstat()
        assert stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode), p
        assert stat.S_IMODE(st.st_mode) == (0o755 if stat.S_ISDIR(st.st_mode) else 0o644), p
        assert st.st_uid == uid, p


def test_symlink_artifact_is_refused_without_reading_its_target(ws, tmp_path, canary):
    (ws / "submission.csv").symlink_to(canary[0])
    with pytest.raises(SnapshotRefused) as e:
        _snap(ws, tmp_path / "snap")
    assert e.value.status == "invalid_artifact" and "symbolic link" in e.value.message
    assert canary[1] not in e.value.message
    assert list((tmp_path / "snap").iterdir()) == []


def test_symlinked_parent_folder_is_not_followed(ws, tmp_path, canary):
    (ws / "out").symlink_to(canary[0].parent)
    with pytest.raises(SnapshotRefused) as e:
        _snap(ws, tmp_path / "snap", rel="out/host-secret.txt")
    assert e.value.status == "invalid_artifact" and "out" in e.value.message
    assert list((tmp_path / "snap").iterdir()) == []


def test_fifo_artifact_does_not_block(ws, tmp_path):
    os.mkfifo(ws / "submission.csv")
    outcome: list[BaseException] = []
    t = threading.Thread(
        target=lambda: outcome.append(pytest.raises(SnapshotRefused, _snap, ws, tmp_path / "s")),
        daemon=True,
    )
    t.start()
    t.join(10)
    assert not t.is_alive(), "the snapshot blocked on a fifo"
    refused = outcome[0].value
    assert refused.status == "invalid_artifact" and "pipe" in refused.message


def test_socket_artifact_is_refused(ws, tmp_path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(ws / "submission.csv"))
        with pytest.raises(SnapshotRefused, match="socket"):
            _snap(ws, tmp_path / "snap")
    finally:
        s.close()


def test_sparse_artifact_is_refused_before_any_read(ws, tmp_path):
    with (ws / "submission.csv").open("wb") as f:
        f.truncate(1 << 40)  # a 1 TiB hole
    with pytest.raises(SnapshotRefused) as e:
        _snap(ws, tmp_path / "snap", max_bytes=8 * MB)
    assert e.value.status == "invalid_artifact"
    assert "8 MB" in e.value.message and str(8 * MB) in e.value.message
    assert list((tmp_path / "snap").iterdir()) == []


@root_only
def test_hardlink_to_a_root_file_is_refused(ws, tmp_path, canary):
    os.chown(ws, AGENT, AGENT)  # the workspace is the agent's; the linked file is root's
    os.link(canary[0], ws / "submission.csv")
    with pytest.raises(SnapshotRefused) as e:
        _snap(ws, tmp_path / "snap")
    assert "hard link" in e.value.message and canary[1] not in e.value.message
    assert list((tmp_path / "snap").iterdir()) == []


@root_only
def test_setuid_file_in_a_folder_artifact_is_copied_plain(ws, tmp_path):
    ckpt = ws / "ckpt"
    (ckpt / "sub").mkdir(parents=True)
    (ckpt / "run").write_bytes(Path("/bin/true").read_bytes())
    (ckpt / "weights.bin").write_bytes(b"w" * 1000)
    for p in (ws, ckpt, ckpt / "sub", ckpt / "run", ckpt / "weights.bin"):
        os.chown(p, AGENT, AGENT)
    (ckpt / "run").chmod(0o6755)
    (ckpt / "sub").chmod(0o3777)
    snap = _snap(ws, tmp_path / "snap", rel="ckpt", expect="directory")
    assert (
        snap.kind == "directory"
        and snap.files == 2
        and snap.size == 1000 + len(Path("/bin/true").read_bytes())
    )
    _only_plain(snap.root)
    record = RunRecord(tmp_path / "run")
    saved = record.save_artifact(snap, "ckpt")
    record.close()
    assert saved == tmp_path / "run" / "artifact" / "ckpt"
    _only_plain(saved)
    assert (saved / "weights.bin").read_bytes() == b"w" * 1000


@pytest.mark.parametrize("bad", ["link", "fifo", "socket"])
def test_folder_artifact_with_a_link_or_special_file_is_refused(ws, tmp_path, canary, bad):
    (ws / "ckpt" / "deep").mkdir(parents=True)
    (ws / "ckpt" / "ok.bin").write_bytes(b"x")
    target = ws / "ckpt" / "deep" / "answers.csv"
    s = socket.socket(socket.AF_UNIX)
    try:
        if bad == "link":
            target.symlink_to(canary[0])
        elif bad == "fifo":
            os.mkfifo(target)
        else:
            s.bind(str(target))
        with pytest.raises(SnapshotRefused) as e:
            _snap(ws, tmp_path / "snap", rel="ckpt", expect="directory")
    finally:
        s.close()
    assert "ckpt/deep/answers.csv" in e.value.message
    assert not (tmp_path / "snap" / "ckpt").exists()


def test_folder_artifact_over_the_total_size_is_refused(ws, tmp_path):
    (ws / "ckpt").mkdir()
    for i in range(5):
        (ws / "ckpt" / f"part{i}").write_bytes(b"x" * (300 * 1024))
    with pytest.raises(SnapshotRefused, match="1 MB"):
        _snap(ws, tmp_path / "snap", rel="ckpt", expect="directory", max_bytes=MB)
    assert not (tmp_path / "snap" / "ckpt").exists()


def test_folder_artifact_with_too_many_files_is_refused(ws, tmp_path):
    (ws / "ckpt").mkdir()
    for i in range(60):
        (ws / "ckpt" / f"f{i}").touch()
    with pytest.raises(SnapshotRefused, match="more than 50 files"):
        _snap(ws, tmp_path / "snap", rel="ckpt", expect="directory", max_files=50)


def test_deeply_nested_folder_artifact_is_refused(ws, tmp_path):
    deep = ws / "ckpt"
    for _ in range(MAX_DEPTH + 2):
        deep = deep / "d"
    deep.mkdir(parents=True)
    with pytest.raises(SnapshotRefused, match="nested deeper"):
        _snap(ws, tmp_path / "snap", rel="ckpt", expect="directory")


def test_wrong_kind_and_missing_artifacts_are_typed(ws, tmp_path):
    (ws / "submission.csv").mkdir()
    with pytest.raises(SnapshotRefused, match="must be a file, not a folder") as e:
        _snap(ws, tmp_path / "snap")
    assert e.value.status == "invalid_artifact"
    with pytest.raises(SnapshotRefused) as e:
        _snap(ws, tmp_path / "snap", rel="nothing.csv")
    assert e.value.status == "no_artifact"


def test_snapshot_hash_is_of_the_copied_content(ws, tmp_path):
    import hashlib

    (ws / "submission.csv").write_bytes(b"PassengerId,Survived\n1,0\n")
    snap = _snap(ws, tmp_path / "a")
    assert snap.sha256 == hashlib.sha256(b"PassengerId,Survived\n1,0\n").hexdigest()
    assert snap.size == 25 and snap.files == 1
    assert snap.path == tmp_path / "a" / "submission.csv"
    (ws / "ckpt" / "x").mkdir(parents=True)
    (ws / "ckpt" / "x" / "w").write_bytes(b"1")
    first = _snap(ws, tmp_path / "b", rel="ckpt", expect="directory").sha256
    assert first == _snap(ws, tmp_path / "c", rel="ckpt", expect="directory").sha256
    (ws / "ckpt" / "x" / "w").write_bytes(b"2")
    assert first != _snap(ws, tmp_path / "d", rel="ckpt", expect="directory").sha256


def test_snapshot_tree_copies_plain_files_and_lists_what_it_left_out(ws, tmp_path, canary):
    (ws / "src").mkdir()
    (ws / "src" / "model.py").write_text("x = 1\n")
    (ws / "src" / "tool").write_bytes(b"#!/bin/sh\n")
    (ws / "src" / "tool").chmod(0o4755)
    (ws / "leak").symlink_to(canary[0])
    os.mkfifo(ws / "pipe")
    (ws / "__pycache__").mkdir()
    (ws / "__pycache__" / "x.pyc").write_bytes(b"0")
    skipped = snapshot_tree(
        ws, tmp_path / "copy", max_bytes=MB, max_files=100, skip=lambda r: "__pycache__" in r
    )
    assert sorted(skipped) == ["leak", "pipe"]
    assert sorted(
        p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*")
    ) == [
        "src",
        "src/model.py",
        "src/tool",
    ]
    _only_plain(tmp_path / "copy")
    with pytest.raises(SnapshotRefused, match="the workspace"):
        snapshot_tree(ws, tmp_path / "copy2", max_bytes=5, max_files=100)


def test_save_artifact_given_a_workspace_path_never_follows_a_link(ws, tmp_path, canary):
    (ws / "submission.csv").symlink_to(canary[0])
    record = RunRecord(tmp_path / "run")
    assert record.save_artifact(ws, "submission.csv") is None
    record.close()
    assert not (tmp_path / "run" / "artifact").exists()
    assert canary[1] not in (tmp_path / "run" / "events.jsonl").read_text()


def test_copy_plain_refuses_over_its_limit(ws, tmp_path):
    (ws / "big").write_bytes(b"x" * 2000)
    with pytest.raises(SnapshotRefused):
        copy_plain(ws / "big", tmp_path / "out" / "big", max_bytes=1000)
    assert not (tmp_path / "out" / "big").exists()
    assert copy_plain(ws / "big", tmp_path / "out" / "big") == (2000, 1)


def test_a_huge_csv_header_is_quoted_capped(ws, tmp_path):
    spec = rgym.spec("titanic")
    cells = ",".join(f"col{i}_" + "y" * 200 for i in range(30_000))  # a 6 MB header line
    (ws / "submission.csv").write_text(cells + "\n1,0\n")
    g = snapshot_artifact(spec, ws, tmp_path / "snap", split="dev")
    assert isinstance(g, Grade) and g.status == "invalid_artifact"
    assert len(g.message) <= MESSAGE_CAP and "PassengerId" in g.message
    assert g.artifact_bytes == len(cells) + 5 and g.artifact_sha256
    # check_artifact on a workspace path (the old call) takes its own snapshot first
    status, message = check_artifact(spec, ws)
    assert status == "invalid_artifact" and len(message) <= MESSAGE_CAP


def _peak_growth(fn) -> int:
    """Bytes the peak RSS of this process rose by while `fn` ran."""
    import re

    def field(name: str) -> int:
        text = Path("/proc/self/status").read_text()
        return int(re.search(rf"^{name}:\s+(\d+) kB", text, re.M).group(1)) * 1024

    Path("/proc/self/clear_refs").write_text("5")
    before = field("VmRSS")
    fn()
    return field("VmHWM") - before


@pytest.mark.parametrize("size", [30_000, 7 * MB])
def test_python_artifact_of_many_names_does_not_bloat_the_host(ws, tmp_path, size):
    """An AST takes ~700 times its source in memory: 7 MB of `a,` parsed on the host took GBs."""
    spec = rgym.spec("battle-of-sexes")
    body = "def row_strategy(history):\n    return 0\nx = [" + "a," * (size // 2) + "]\n"
    (ws / "strategy.py").write_text(body)
    out: list = []
    growth = _peak_growth(lambda: out.append(snapshot_artifact(spec, ws, tmp_path / "snap")))
    assert isinstance(out[0], Snapshot) and out[0].size == len(body)
    assert growth < 50 * MB, growth / MB


def test_a_task_sets_its_own_artifact_limit_in_task_yaml(ws, tmp_path):
    from rgym.tasks.spec import Artifact

    art = rgym.spec("titanic").artifact
    assert art.max_bytes == 64 * MB
    assert Artifact(path="m.py", kind="python", function="f").max_bytes == 8 * MB
    assert Artifact(path="ckpt", kind="directory").max_bytes == 2048 * MB
    with pytest.raises(ValueError):
        Artifact(path="x.csv", kind="csv", max_mb=0)
    spec = rgym.spec("titanic").model_copy(
        update={"artifact": art.model_copy(update={"max_mb": 0.001})}  # 1048 bytes
    )
    (ws / "submission.csv").write_text("PassengerId,Survived\n" + "1,0\n" * 300)
    g = snapshot_artifact(spec, ws, tmp_path / "snap", split="test")
    assert isinstance(g, Grade) and g.status == "invalid_artifact" and "1048 bytes" in g.message
    assert g.split == "test" and list((tmp_path / "snap").iterdir()) == []
