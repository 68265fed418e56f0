"""Runs a task's grader in a fresh sandbox and turns whatever happens into a typed Grade.

The grader sees a read-only snapshot of the artefact (copied once, so nothing the agent's
background jobs do later changes what is scored), the task's private data and its own code. When
the artefact is code, it runs in a second sandbox that holds only the artefact; the grader calls
it over two pipes and owns the loop that computes the score.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import tempfile
import time
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from rgym.sandbox import Backend, LaunchSpec, Mount, SandboxLimits
from rgym.tasks.data import PreparedData
from rgym.tasks.spec import Direction, TaskSpec

INSIDE = Path(__file__).parent / "inside"


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
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == GradeStatus.ok


def check_artifact(spec: TaskSpec, workspace: Path) -> tuple[GradeStatus, str] | None:
    """Cheap checks before a grader starts; None when the artefact looks gradeable."""
    art = spec.artifact
    path = workspace / art.path
    if path.is_symlink():
        return GradeStatus.invalid_artifact, f"{art.path} is a symbolic link; write a real file."
    if not path.exists():
        what = {
            "csv": "a CSV file",
            "python": f"a Python file defining {art.function}()",
            "directory": "a folder",
            "file": "a file",
        }[art.kind]
        return GradeStatus.no_artifact, (
            f"No {art.path} in the workspace. The task expects {what} at {art.path}"
            + (f" with columns {', '.join(art.columns)}." if art.columns else ".")
        )
    if art.kind == "directory":
        if not path.is_dir() or not any(path.iterdir()):
            return GradeStatus.invalid_artifact, f"{art.path} must be a non-empty folder."
        # a link could make the grader read its own private files as if they were the artefact
        links = [p for p in path.rglob("*") if p.is_symlink()]
        if links:
            return GradeStatus.invalid_artifact, (
                f"{art.path} contains symbolic links ({links[0].relative_to(workspace)}); "
                "copy the files in instead."
            )
        return None
    if not path.is_file():
        return GradeStatus.invalid_artifact, f"{art.path} must be a file, not a folder."
    if path.stat().st_size == 0:
        return GradeStatus.invalid_artifact, f"{art.path} is empty."
    if art.kind == "csv":
        header = path.open("rb").readline().decode("utf-8", "replace").strip().split(",")
        header = [h.strip().strip('"') for h in header]
        missing = [c for c in art.columns if c not in header]
        if missing:
            return GradeStatus.invalid_artifact, (
                f"{art.path}: the header has no column(s) {', '.join(missing)}; expected a header "
                f"line with {', '.join(art.columns)} (found: {', '.join(header[:10])})."
            )
    if art.kind == "python":
        try:
            tree = ast.parse(path.read_bytes(), filename=art.path)
        except (SyntaxError, ValueError) as e:
            return GradeStatus.invalid_artifact, f"{art.path} is not valid Python: {e}"
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


def _snapshot(spec: TaskSpec, workspace: Path, into: Path) -> Path:
    src = workspace / spec.artifact.path
    dst = into / Path(spec.artifact.path).name
    if src.is_dir():
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst, follow_symlinks=False)
    for p in [into, *into.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def _parse(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("RGYM_RESULT "):
            try:
                return json.loads(line[len("RGYM_RESULT ") :])
            except json.JSONDecodeError:
                return None
    return None


def grade(
    spec: TaskSpec, variant: str, workspace: Path, split: str, backend: Backend, data: PreparedData
) -> Grade:
    """Score the artefact in `workspace` on `split` ("dev" or "test"). Never raises for the
    artefact's sake: every failure is a typed Grade."""
    start = time.monotonic()
    problem = check_artifact(spec, workspace)
    if problem:
        return Grade(split=split, status=problem[0], message=problem[1])
    gspec = getattr(spec.graders, split)
    tmp = Path(tempfile.mkdtemp(prefix="rgym-grade-"))
    tmp.chmod(0o755)
    procs = []
    try:
        snap_dir = tmp / "artifact"
        snap_dir.mkdir()
        artifact = _snapshot(spec, workspace, snap_dir)
        limits = SandboxLimits(
            memory_mb=spec.variant(variant).resources.memory_mb,
            cpus=spec.variant(variant).resources.cpus,
            pids=256,
        )
        if gspec.kind == "mlgym":
            from rgym.grading.mlgym import mlgym_launch

            launch = mlgym_launch(spec, workspace, tmp, data, gspec.script, limits, backend)
        else:
            grader_dir = spec.path(gspec.script).parent
            mounts = [
                Mount(snap_dir, "/artifact"),
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
            art_vis = f"{vis['/artifact']}/{artifact.name}"
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
                str(spec.seed),
                "--options",
                json.dumps(spec.variant(variant).data),
            ]
            env = {"PYTHONPATH": vis["/opt/rgym-grade"], "RGYM_SPLIT": split}
            launch = LaunchSpec(
                argv=argv, mounts=mounts, limits=limits, cwd="/home/agent/work", env=env
            )
            if spec.artifact.kind == "python":
                procs.append(_start_artifact_server(spec, backend, snap_dir, artifact, launch))
        proc = backend.popen(
            launch, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        procs.append(proc)
        for fd in launch.pass_fds:
            os.close(fd)
        try:
            out, err = proc.popen.communicate(timeout=gspec.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return Grade(
                split=split,
                status=GradeStatus.timeout,
                seconds=time.monotonic() - start,
                message=f"grading took longer than {gspec.timeout:g} s and was stopped.",
            )
        stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
        if gspec.kind == "mlgym":
            from rgym.grading.mlgym import parse_mlgym

            result = parse_mlgym(stdout)
        else:
            result = _parse(stdout)
        seconds = time.monotonic() - start
        if result is None:
            tail = (stderr or stdout).strip()[-1500:]
            return Grade(
                split=split,
                status=GradeStatus.grader_error,
                seconds=seconds,
                message=f"the grader exited with code {proc.popen.returncode} without a "
                f"result:\n{tail}",
            )
        if "invalid" in result:
            return Grade(
                split=split,
                status=GradeStatus.invalid_artifact,
                seconds=seconds,
                message=result["invalid"],
            )
        metrics = result.get("metrics", {})
        if spec.metric.name not in metrics:
            return Grade(
                split=split,
                status=GradeStatus.grader_error,
                seconds=seconds,
                metrics=metrics,
                message=f"the grader reported no {spec.metric.name!r}",
            )
        return Grade(
            split=split,
            status=GradeStatus.ok,
            score=metrics[spec.metric.name],
            metrics=metrics,
            seconds=seconds,
        )
    finally:
        for p in procs:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def _start_artifact_server(spec, backend, snap_dir, artifact, grader_launch):
    """Start the agent's code in its own sandbox, wired to the grader by two pipes."""
    to_art_r, to_art_w = os.pipe()
    from_art_r, from_art_w = os.pipe()
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
    )
    proc = backend.popen(launch, stdin=to_art_r, stdout=from_art_w, stderr=subprocess.DEVNULL)
    os.close(to_art_r)
    os.close(from_art_w)
    grader_launch.pass_fds = (from_art_r, to_art_w)
    grader_launch.env["RGYM_CALL_FDS"] = f"{from_art_r},{to_art_w}"
    return proc


def better(a: float | None, b: float | None, direction: Direction) -> bool:
    """Is score `a` better than `b`? (None is worse than anything.)"""
    if a is None:
        return False
    if b is None:
        return True
    return a > b if direction == Direction.max else a < b
