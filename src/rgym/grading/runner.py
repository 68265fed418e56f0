"""Runs a task's grader in a fresh sandbox and turns whatever happens into a typed Grade.

Grading works on one snapshot of the artefact (see `rgym.grading.snapshot`): taken once, through
directory fds, size-limited and plain, so nothing the agent's background jobs do later changes
what is checked, scored or recorded, and no link in the workspace can make the host read its own
files. The grader sees that snapshot read-only, the task's private data and its own code. When the
artefact is code, it runs in a second sandbox that holds only the artefact; the grader calls it
over two pipes and owns the loop that computes the score.
"""

from __future__ import annotations

import ast
import json
import os
import selectors
import subprocess
import time
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from rgym.grading.snapshot import (
    Snapshot,
    SnapshotRefused,
    copy_plain,
    snapshot_tree,
    take_snapshot,
)
from rgym.sandbox import Backend, LaunchSpec, Mount, SandboxLimits, gpu
from rgym.sandbox.base import compute_env
from rgym.sandbox.scratch import remove_tree, scratch_dir
from rgym.tasks.data import PreparedData
from rgym.tasks.spec import Direction, TaskSpec

INSIDE = Path(__file__).parent / "inside"
MESSAGE_CAP = 2000
"""Characters of any message shown to the agent (a grader's complaint, an error line)."""
QUOTE_CAP = 300
"""Characters of the artefact quoted in a message (a header excerpt)."""
DETAIL_CAP = 8000
"""Characters of grader output kept in `Grade.detail` (recorded, never shown to the agent)."""
PIPE_CAP = 1 << 20
"""Bytes of a grader's stdout/stderr kept on the host (the tail; the rest is dropped unread)."""
HEADER_BYTES = 64 * 1024
"""Bytes of a CSV read to find its header line."""
AST_MAX_BYTES = 32 * 1024
"""Python artefacts larger than this are not parsed on the host, as an AST takes up to ~700 times
its source's size in memory (the grader still checks them, in its sandbox)."""
MAX_DIR_FILES = 10_000
WORKSPACE_MAX_BYTES = 4 << 30
"""The most an MLGym grader's copy of the workspace may hold."""


class GradeStatus(StrEnum):
    ok = "ok"
    no_artifact = "no_artifact"
    invalid_artifact = "invalid_artifact"
    grader_error = "grader_error"
    timeout = "timeout"


class Grade(BaseModel):
    """The outcome of one grading: a score, or a typed reason with a message the agent can use."""

    split: str
    status: GradeStatus
    score: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    message: str = ""
    """Shown to the agent: short, capped, never a grader's source or traceback."""
    seconds: float = 0.0
    artifact_sha256: str | None = None
    """Of the snapshot that was checked and scored (None when none could be taken)."""
    artifact_bytes: int | None = None
    detail: str = ""
    """For the run record only (events), never shown to the agent: e.g. a grader's stderr tail."""

    @property
    def ok(self) -> bool:
        return self.status == GradeStatus.ok


def _cap(text: str, n: int = MESSAGE_CAP) -> str:
    return text if len(text) <= n else text[: n - 15] + " …(truncated)"


def _quote(items: list[str], n: int = 10) -> str:
    """Names taken from the artefact, for a message: a few, each and all of them capped."""
    return _cap(", ".join(_cap(x, 60) for x in items[:n]), QUOTE_CAP)


def _expect(spec: TaskSpec) -> str:
    return "directory" if spec.artifact.kind == "directory" else "file"


def _what(spec: TaskSpec) -> str:
    art = spec.artifact
    what = {
        "csv": "a CSV file",
        "python": f"a Python file defining {art.function}()",
        "directory": "a folder",
        "file": "a file",
    }[art.kind]
    return f"The task expects {what} at {art.path}" + (
        f" with columns {', '.join(art.columns)}." if art.columns else "."
    )


def _read_head(path: Path, n: int) -> bytes:
    """At most `n` bytes of a snapshot file (host-owned; still opened without following links)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        out = bytearray()
        while len(out) < n:
            chunk = os.read(fd, n - len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)
    finally:
        os.close(fd)


def check_artifact(spec: TaskSpec, snapshot: Snapshot | Path) -> tuple[GradeStatus, str] | None:
    """Cheap checks before a grader starts; None when the artefact looks gradeable.

    Works on a snapshot (bounded reads of a host-owned copy). Given a workspace path instead, it
    takes a snapshot first, in a scratch folder removed afterwards."""
    if not isinstance(snapshot, Snapshot):
        into = scratch_dir("check-")
        try:
            snap = snapshot_artifact(spec, Path(snapshot), into)
            return (snap.status, snap.message) if isinstance(snap, Grade) else None
        finally:
            remove_tree(into)
    art = spec.artifact
    if snapshot.kind == "directory":
        if not any(snapshot.path.iterdir()):
            return GradeStatus.invalid_artifact, f"{art.path} must be a non-empty folder."
        if art.entry and not (snapshot.path / art.entry).is_file():  # a host-owned plain copy
            return GradeStatus.invalid_artifact, (
                f"{art.path}/{art.entry} is missing: the grader imports it to load your model."
            )
        return None
    if snapshot.size == 0:
        return GradeStatus.invalid_artifact, f"{art.path} is empty."
    if art.kind == "csv":
        head = _read_head(snapshot.path, HEADER_BYTES)
        line = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        header = [h.strip().strip('"') for h in line.split(",")]
        missing = [c for c in art.columns if c not in header]
        if missing:
            return GradeStatus.invalid_artifact, _cap(
                f"{art.path}: the header has no column(s) {', '.join(missing)}; expected a "
                f"header line with {', '.join(art.columns)} (found: {_quote(header)})."
            )
    if art.kind == "python" and snapshot.size <= AST_MAX_BYTES:
        try:
            tree = ast.parse(_read_head(snapshot.path, AST_MAX_BYTES), filename=art.path)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
            return GradeStatus.invalid_artifact, _cap(f"{art.path} is not valid Python: {e}")
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        names |= {
            t.id
            for n in tree.body
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        names |= {
            a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names
        }
        if art.function not in names:
            return GradeStatus.invalid_artifact, (
                f"{art.path} defines no top-level function {art.function}()."
            )
    return None


def snapshot_artifact(
    spec: TaskSpec, workspace: Path, into: Path, *, split: str = ""
) -> Snapshot | Grade:
    """Take the one snapshot of the artefact into the host-owned folder `into` and check it.

    Returns the Snapshot when it looks gradeable, else a refused Grade (no_artifact or
    invalid_artifact, with a message for the agent). A snapshot that fails the cheap checks is
    still left in `into` (the run record keeps what the agent submitted)."""
    art = spec.artifact
    try:
        snap = take_snapshot(
            workspace,
            art.path,
            into,
            max_bytes=art.max_bytes,
            max_files=MAX_DIR_FILES,
            expect=_expect(spec),
        )
    except SnapshotRefused as e:
        message = e.message
        if e.status == GradeStatus.no_artifact:
            message = f"No {art.path} in the workspace. {_what(spec)}"
        return Grade(split=split, status=GradeStatus(e.status), message=_cap(message))
    problem = check_artifact(spec, snap)
    if problem:
        return Grade(
            split=split,
            status=problem[0],
            message=_cap(problem[1]),
            artifact_sha256=snap.sha256,
            artifact_bytes=snap.size,
        )
    return snap


def _parse(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("RGYM_RESULT "):
            try:
                return json.loads(line[len("RGYM_RESULT ") :])
            except json.JSONDecodeError:
                return None
    return None


def _communicate(popen: subprocess.Popen, timeout: float) -> tuple[bytes, bytes] | None:
    """Like Popen.communicate, but keeps only the last PIPE_CAP bytes of each stream, so a
    chatty grader (or the agent's code it loads) cannot fill the host's memory. None on timeout."""
    deadline = time.monotonic() + timeout
    bufs = {popen.stdout: bytearray(), popen.stderr: bytearray()}
    sel = selectors.DefaultSelector()
    for f in bufs:
        sel.register(f, selectors.EVENT_READ)
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            for key, _ in sel.select(timeout=left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf = bufs[key.fileobj]
                buf += chunk
                if len(buf) > 2 * PIPE_CAP:
                    del buf[:-PIPE_CAP]
        try:
            popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None
    finally:
        sel.close()
        for f in bufs:  # drained or given up on: nobody reads them after this
            f.close()
    out, err = (bytes(b[-PIPE_CAP:]) for b in bufs.values())
    return out, err


def _last_lines(text: str, n: int = 1) -> str:
    """The final line(s) of a traceback: the error itself, without the grader's source."""
    lines = [x.strip() for x in text.strip().splitlines() if x.strip()]
    return _cap(" / ".join(lines[-n:]), QUOTE_CAP) if lines else "(no output)"


def _mlgym_skip(spec: TaskSpec):
    """What an MLGym grader's copy of the workspace leaves out: the artefact (the checked
    snapshot goes there instead) and, where the task declares its artefact paths, everything
    else (the grader rebuilds the rest of its workspace from the task folder)."""
    ml = spec.mlgym
    main = spec.artifact.path.strip("/")
    wanted = [
        p.strip("/")
        for p in [
            *getattr(ml, "artifacts", []),
            *getattr(ml, "optional_artifacts", []),
            *getattr(ml, "in_process", []),
        ]
    ]

    def skip(rel: str) -> bool:
        if rel == main or rel.startswith(main + "/"):
            return True
        if not wanted:
            return False
        return not any(
            rel == w or rel.startswith(w + "/") or w.startswith(rel + "/") for w in wanted
        )

    return skip


def grade_snapshot(
    spec: TaskSpec,
    variant: str,
    snapshot: Snapshot,
    split: str,
    backend: Backend,
    data: PreparedData,
    *,
    workspace: Path | None = None,
) -> Grade:
    """Score a snapshot on `split` ("dev" or "test"). Never raises for the artefact's sake.

    `workspace` is needed only by graders that run in a copy of the workspace (MLGym): that copy
    is taken with `snapshot_tree` (plain files only) and its artefact replaced by the snapshot,
    so what is scored is what was checked."""
    start = time.monotonic()
    gspec = getattr(spec.graders, split)
    art = {"artifact_sha256": snapshot.sha256, "artifact_bytes": snapshot.size}
    tmp = scratch_dir("grade-")
    procs = []
    try:
        limits = SandboxLimits(
            memory_mb=spec.variant(variant).resources.memory_mb,
            cpus=spec.variant(variant).resources.cpus,
            pids=256,
        )
        if gspec.kind == "mlgym":
            from rgym.grading.mlgym import mlgym_launch

            if workspace is None:
                return Grade(
                    split=split,
                    status=GradeStatus.grader_error,
                    message="this grader runs in a copy of the workspace, and none was given.",
                    **art,
                )
            copy = tmp / "workspace-snapshot"
            try:
                snapshot_tree(
                    workspace,
                    copy,
                    max_bytes=max(WORKSPACE_MAX_BYTES, spec.artifact.max_bytes),
                    max_files=100_000,
                    skip=_mlgym_skip(spec),
                )
            except SnapshotRefused as e:
                return Grade(
                    split=split, status=GradeStatus.invalid_artifact, message=_cap(e.message), **art
                )
            copy_plain(snapshot.path, copy / spec.artifact.path)
            launch = mlgym_launch(spec, copy, tmp, data, gspec.script, limits, backend, procs=procs)
        else:
            grader_dir = spec.path(gspec.script).parent
            mounts = [
                Mount(snapshot.root, "/artifact"),
                Mount(data.private, "/private"),
                Mount(data.public, "/data"),
                Mount(grader_dir, "/grader"),
                Mount(INSIDE, "/opt/rgym-grade"),
                Mount(tmp / "work", "/home/agent/work", True),
            ]
            (tmp / "work").mkdir()
            if getattr(backend, "agent_uid", None) not in (None, os.geteuid()):
                os.chown(tmp / "work", backend.agent_uid, backend.agent_uid)
            vis = {m.dst: backend.visible_path(m) for m in mounts}
            art_vis = f"{vis['/artifact']}/{snapshot.path.name}"
            argv = [
                backend.python(),
                f"{vis['/grader']}/{Path(gspec.script).name}",
                "--split",
                split,
                "--artifact",
                art_vis,
                "--private",
                vis["/private"],
                "--public",
                vis["/data"],
                "--seed",
                str(data.grader_seed(split)),  # secret unless the data uses public seeds
                "--options",
                json.dumps(spec.variant(variant).data),
            ]
            env = {"PYTHONPATH": vis["/opt/rgym-grade"], "RGYM_SPLIT": split}
            launch = LaunchSpec(
                argv=argv, mounts=mounts, limits=limits, cwd="/home/agent/work", env=env
            )
            if spec.artifact.kind == "python":
                procs.append(
                    _start_artifact_server(spec, backend, snapshot.root, snapshot.path, launch)
                )
            elif spec.artifact.entry:
                for _ in range(spec.artifact.instances):
                    procs.append(_start_model_server(spec, variant, backend, snapshot.path, launch))
        proc = backend.popen(
            launch, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        procs.append(proc)
        for fd in launch.pass_fds:
            os.close(fd)
        outs = _communicate(proc.popen, gspec.timeout)
        if outs is None:
            proc.kill()
            return Grade(
                split=split,
                status=GradeStatus.timeout,
                seconds=time.monotonic() - start,
                message=f"grading took longer than {gspec.timeout:g} s and was stopped.",
                **art,
            )
        stdout, stderr = (o.decode("utf-8", errors="replace") for o in outs)
        if gspec.kind == "mlgym":
            from rgym.grading.mlgym import parse_mlgym

            result = parse_mlgym(stdout)
        else:
            result = _parse(stdout)
        seconds = time.monotonic() - start
        if not isinstance(result, dict):
            out = (stderr or stdout).strip()
            return Grade(
                split=split,
                status=GradeStatus.grader_error,
                seconds=seconds,
                message=f"the grader exited with code {proc.popen.returncode} without a "
                f"result: {_last_lines(out)}",
                detail=out[-DETAIL_CAP:],
                **art,
            )
        if "invalid" in result:
            return Grade(
                split=split,
                status=GradeStatus.invalid_artifact,
                seconds=seconds,
                message=_cap(str(result["invalid"])),
                **art,
            )
        metrics = result.get("metrics", {})
        if not isinstance(metrics, dict) or not all(
            isinstance(v, int | float) for v in metrics.values()
        ):
            metrics = {}
        metrics = {_cap(str(k), 100): float(v) for k, v in list(metrics.items())[:100]}
        if spec.metric.name not in metrics:
            return Grade(
                split=split,
                status=GradeStatus.grader_error,
                seconds=seconds,
                metrics=metrics,
                message=f"the grader reported no {spec.metric.name!r}",
                detail=stderr.strip()[-DETAIL_CAP:],
                **art,
            )
        return Grade(
            split=split,
            status=GradeStatus.ok,
            score=metrics[spec.metric.name],
            metrics=metrics,
            seconds=seconds,
            **art,
        )
    finally:
        for p in procs:
            p.kill()
        remove_tree(tmp)


def grade(
    spec: TaskSpec,
    variant: str,
    workspace: Path,
    split: str,
    backend: Backend,
    data: PreparedData,
    *,
    keep: Path | None = None,
) -> Grade:
    """Score the artefact in `workspace` on `split` ("dev" or "test"): one snapshot, checked,
    then graded. Never raises for the artefact's sake: every failure is a typed Grade.

    With `keep` (a host-owned folder), the snapshot is left there as `keep/<artefact name>` for
    the run record (`RunRecord.save_artifact(keep, rel)`); otherwise it is removed."""
    start = time.monotonic()
    into = keep if keep is not None else scratch_dir("snapshot-")
    try:
        snap = snapshot_artifact(spec, workspace, into, split=split)
        if isinstance(snap, Grade):
            snap.seconds = time.monotonic() - start
            return snap
        g = grade_snapshot(spec, variant, snap, split, backend, data, workspace=workspace)
        g.seconds = time.monotonic() - start
        return g
    finally:
        if keep is None:
            remove_tree(into)


def _start_artifact_server(
    spec: TaskSpec, backend: Backend, snap_dir: Path, artifact: Path, grader_launch: LaunchSpec
):
    """Start the agent's code in its own sandbox, wired to the grader by two pipes."""
    mounts = [Mount(snap_dir, "/artifact"), Mount(INSIDE, "/opt/rgym-grade")]
    vis = {m.dst: backend.visible_path(m) for m in mounts}
    argv = [
        backend.python(),
        f"{vis['/opt/rgym-grade']}/call_server.py",
        f"{vis['/artifact']}/{artifact.name}",
        spec.artifact.function,
    ]
    launch = LaunchSpec(
        argv=argv,
        mounts=mounts,
        cwd="/artifact",
        limits=SandboxLimits(memory_mb=1024, cpus=1.0, pids=64),
        hidden=agent_hidden_paths(spec),
    )
    return _wire(backend, launch, grader_launch)


def _start_model_server(
    spec: TaskSpec, variant: str, backend: Backend, model_dir: Path, grader_launch: LaunchSpec
):
    """Start a model artefact (a folder whose `entry` rgym's server imports) in its own sandbox
    with the variant's CPUs, memory and GPUs, wired to the grader by two pipes that carry arrays
    (`inside/frames.py`)."""
    res = spec.variant(variant).resources
    gpus = gpu.choose(res.gpus, f"grading task {spec.id!r} ({variant})")
    mounts = [Mount(model_dir, "/home/agent/model"), Mount(INSIDE, "/opt/rgym-grade")]
    vis = {m.dst: backend.visible_path(m) for m in mounts}
    launch = LaunchSpec(
        argv=[
            backend.python(),
            f"{vis['/opt/rgym-grade']}/model_server.py",
            f"{vis['/home/agent/model']}/{spec.artifact.entry}",
        ],
        mounts=mounts,
        cwd=vis["/home/agent/model"],
        env=compute_env(res.cpus),
        limits=SandboxLimits(memory_mb=res.memory_mb, cpus=res.cpus, pids=256),
        hidden=agent_hidden_paths(spec),
        gpus=gpus,
    )
    return _wire(backend, launch, grader_launch)


def _wire(backend: Backend, launch: LaunchSpec, grader_launch: LaunchSpec):
    """Start the artefact's sandbox with two pipes whose other ends go to the grader."""
    to_art_r, to_art_w = os.pipe()
    from_art_r, from_art_w = os.pipe()
    try:
        proc = backend.popen(launch, stdin=to_art_r, stdout=from_art_w, stderr=subprocess.DEVNULL)
    except BaseException:
        for fd in (to_art_w, from_art_r):
            os.close(fd)
        raise
    finally:
        os.close(to_art_r)
        os.close(from_art_w)
    # several artefact processes (Artifact.instances): one `r,w` pair each, `;`-separated
    grader_launch.pass_fds = (*grader_launch.pass_fds, from_art_r, to_art_w)
    known = grader_launch.env.get("RGYM_CALL_FDS")
    pair = f"{from_art_r},{to_art_w}"
    grader_launch.env["RGYM_CALL_FDS"] = f"{known};{pair}" if known else pair
    return proc


def agent_hidden_paths(spec: TaskSpec) -> list[Path]:
    """What no sandbox that runs the agent's code may see: the task's raw-data packages and
    host paths (a system package's labels, a lexicon)."""
    from rgym.sandbox.bwrap import package_dirs

    return [*package_dirs(spec.data.private_packages), *(Path(p) for p in spec.data.private_paths)]


def better(a: float | None, b: float | None, direction: Direction) -> bool:
    """Is score `a` better than `b`? (None is worse than anything.)"""
    if a is None:
        return False
    if b is None:
        return True
    return a > b if direction == Direction.max else a < b
