"""Grading for tasks imported from MLGym task YAMLs.

MLGym runs a task's `evaluate.py` in the agent's own shell, in the agent's workspace, so the
evaluator imports whatever the agent left there (a `json.py`, an edited opponent) and its output
is whatever was printed last. Here:

1. **A rebuilt workspace.** The grader's workspace is made afresh from the task folder (every
   starter file, pristine: an edited `target.py` is not used), the task's data and secret files,
   and only the agent's declared artefact, taken from the safe snapshot of its workspace. No
   other agent file is there, so none can be imported.
2. **Agent code in its own sandbox.** Where the artefact is a Python module the evaluator
   imports (`strategy.py`, `heuristic.py`), the grading workspace holds a proxy module under its
   name; the agent's module runs in a second sandbox that holds only itself, and each call
   crosses over a pipe as plain data (rgym/grading/inside/mlgym_call.py). The evaluator's process
   runs no agent code. RL and LM tasks are the exception MLGym's design forces: their evaluators
   import the agent's model code (`src/networks.py`, `baseline.py`) and unpickle its
   checkpoints in-process, so for them the score is as trustworthy as MLGym's (documented in
   docs; listed in `MLGymExtras.in_process`).
3. **A result channel only rgym writes.** The evaluator runs under `mlgym_eval.py`
   (`python -I`, the workspace put first on the path by hand): its prints are captured, fd 1 is
   pointed at stderr, and the parsed metrics go out on a private duplicate of stdout as one
   `RGYM_MLGYM_RESULT` line, after which the process ends without exit hooks. `parse_mlgym`
   reads only that line.
4. **Secrets stay private on the host.** The grading workspace lives in a 0700 folder owned by
   the user running rgym; inside, its files belong to the grader's uid with mode 0600 (0700 for
   folders), so no other host user can read the answers while grading runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from rgym.grading.snapshot import SnapshotRefused, copy_plain
from rgym.sandbox import WORKSPACE, LaunchSpec, Mount, SandboxLimits
from rgym.tasks.spec import TaskSpec

INSIDE = Path(__file__).parent / "inside"
MARK = "RGYM_MLGYM_RESULT "
CALL_TIMEOUT = 300.0
"""Seconds one call into the agent's module may take."""


def parse_mlgym(stdout: str) -> dict | None:
    """The result `mlgym_eval.py` reported: {"metrics": {...}} or {"invalid": "..."}; None when
    it reported nothing (the grader itself failed)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARK):
            try:
                result = json.loads(line[len(MARK) :])
            except ValueError:
                return None
            return result if isinstance(result, dict) else None
    return None


def _module_name(rel: str) -> str:
    return rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _proxy_source(rel: str, names: list[str]) -> str:
    return (
        f'"""Written by rgym: the agent\'s {rel} runs in a sandbox of its own; calls to it go '
        'through rgym (mlgym_call)."""\n\n'
        "import mlgym_call as _rgym_call\n\n"
        f"globals().update(_rgym_call.attach({_module_name(rel)!r}, {names!r}))\n"
    )


def _own(path: Path, uid: int | None) -> None:
    """Hand a tree to the grader's uid, readable by it only (0700 folders, 0600 files). The top
    folder is 0711: bubblewrap enters it (as root without capabilities) to start the grader;
    no one else can reach it, its parent being 0700."""
    for p in [path, *path.rglob("*")]:
        if p.is_symlink():
            p.unlink()
            continue
        if uid is not None and uid != os.geteuid():
            os.lchown(p, uid, uid)
        p.chmod(0o700 if p.is_dir() else 0o600)
    path.chmod(0o711)


def build_workspace(
    spec: TaskSpec, snapshot: Path, base: Path, data, backend
) -> tuple[Path, Path | None, list[str], bool]:
    """Make the grader's workspace in `base` (created 0700): pristine starter files, the
    artefact from `snapshot` (a host-owned copy of the agent's workspace), secret files, and the
    data when it holds private files. Returns (workspace, folder of the agent's modules for their
    own sandbox or None, problems for the agent, whether data/ must be mounted)."""
    from rgym.tasks.mlgym_data import workspace_layout

    ml = spec.mlgym
    assert ml is not None and spec.root is not None
    base.mkdir(mode=0o700)
    base.chmod(0o700)
    work = base / "workspace"
    work.mkdir()
    for rel, src in workspace_layout(spec.root, ml.starter_code).items():
        dst = work / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    problems: list[str] = []
    taken = [(rel, True) for rel in ml.artifacts]
    taken += [(rel, False) for rel in [*ml.optional_artifacts, *ml.in_process]]
    for rel, required in taken:
        src = snapshot / rel
        if not src.exists():  # a host-owned snapshot: plain files and folders only
            if required:
                problems.append(f"No {rel} in the workspace; the task expects it.")
            continue
        try:
            copy_plain(src, work / rel)
        except SnapshotRefused as e:
            problems.append(e.message)
    uid = getattr(backend, "agent_uid", None)
    modules_dir = None
    if ml.modules:
        modules_dir = base / "artifact"
        modules_dir.mkdir()
        for rel, names in ml.modules.items():
            agent = work / rel
            if agent.exists():
                dst = modules_dir / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(agent, dst)
            (work / rel).write_text(_proxy_source(rel, names))
        _own(modules_dir, uid)
    local = [Path(d["data_path"]) for d in ml.datasets if d["is_local"]]
    for rel in ml.secret_files:  # those inside a local dataset come with data/ (below)
        if not any(Path(rel).is_relative_to(d) for d in local):
            shutil.copyfile(spec.root / rel, work / Path(rel).name)
    mount_data = True
    if backend.isolated:
        (work / "data").mkdir()  # the mount point (the local backend links data/ there instead)
    if data is not None and any(data.private.rglob("*")):
        # secret files of a local dataset: the grader sees data/ whole, the agent never did
        shutil.copytree(data.public, work / "data", dirs_exist_ok=True)
        shutil.copytree(data.private, work / "data", dirs_exist_ok=True)
        mount_data = False
    _own(work, uid)
    return work, modules_dir, problems, mount_data


def _start_modules(spec: TaskSpec, backend, modules_dir: Path) -> tuple[object, int, int]:
    """Start the agent's module(s) in their own sandbox; returns (process, read fd, write fd)
    of the grader's end."""
    ml = spec.mlgym
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    mounts = [Mount(modules_dir, "/artifact"), Mount(INSIDE, "/opt/rgym-grade")]
    vis = {m.dst: backend.visible_path(m) for m in mounts}
    files = {_module_name(rel): f"{vis['/artifact']}/{rel}" for rel in ml.modules}
    launch = LaunchSpec(
        argv=[
            backend.python(),
            "-I",
            f"{vis['/opt/rgym-grade']}/mlgym_serve.py",
            json.dumps(files),
        ],
        mounts=mounts,
        cwd="/artifact",
        limits=SandboxLimits(memory_mb=2048, cpus=1.0, pids=64),
    )
    try:
        proc = backend.popen(launch, stdin=to_r, stdout=from_w, stderr=subprocess.DEVNULL)
    finally:
        os.close(to_r)
        os.close(from_w)
    return proc, from_r, to_w


def _eval_args(spec: TaskSpec, work: Path, ws: str) -> list[str]:
    ml = spec.mlgym
    if ml.entrypoint == "CSVSubmissionTasks":
        return ["--submission_file", f"{ws}/{spec.artifact.path}"]
    if ml.entrypoint == "ModelSubmissionTasks":
        yamls = [r for r in ml.optional_artifacts if (work / r).is_file()]
        yamls += sorted(str(p.relative_to(work)) for p in work.rglob("*.yaml"))
        return ["--config_fname", f"{ws}/{yamls[0]}"] if yamls else []
    return []


def mlgym_launch(spec, workspace, tmp, data, script, limits, backend, procs=None) -> LaunchSpec:
    """The launch of an MLGym evaluate script for the runner: `workspace` is the host-owned
    snapshot of the agent's workspace (only its artefact paths are used), `tmp` a scratch folder
    removed after grading. The agent's module sandbox, when there is one, is appended to
    `procs` (the runner kills it with the grader; it also exits when the grader does)."""
    ml = spec.mlgym
    if ml is None:
        raise ValueError(f"task {spec.id!r} is not an imported MLGym task")
    work, modules_dir, problems, mount_data = build_workspace(
        spec, Path(workspace), Path(tmp) / "mlgym", data, backend
    )
    mounts = [Mount(work, WORKSPACE, writable=True)]
    env = {"RGYM_MLGYM_CALL_TIMEOUT": str(CALL_TIMEOUT)}
    if data is not None and mount_data:
        mounts.append(Mount(data.public, f"{WORKSPACE}/data"))
        if (data.public / ".hf").is_dir():
            env["HF_DATASETS_CACHE"] = f"{backend.visible_path(mounts[-1])}/.hf"
            env["HF_DATASETS_OFFLINE"] = "1"
            env["HF_HUB_OFFLINE"] = "1"
    inside = Mount(INSIDE, "/opt/rgym-grade")
    mounts.append(inside)
    ws = backend.visible_path(mounts[0])
    mode = "whole" if ml.entrypoint in ("CSVSubmissionTasks", "PythonSubmissionTasks") else "first"
    runner = [backend.python(), "-I"]
    if ml.entrypoint == "LMSubmissionTasks":  # MLGym: torchrun, one process per GPU
        from rgym.tasks.mlgym_data import gpu_count

        n = max(1, gpu_count())
        runner = [backend.python(), "-m", "torch.distributed.run", "--standalone"]
        runner.append(f"--nproc_per_node={n}")
    argv = [*runner, f"{backend.visible_path(inside)}/mlgym_eval.py", "--mode", mode]
    argv += ["--script", str(script)]
    if problems:
        argv += ["--problem", " ".join(problems)]
    argv += ["--", *_eval_args(spec, work, ws)]
    launch = LaunchSpec(argv=argv, mounts=mounts, limits=limits, cwd=WORKSPACE, env=env)
    if modules_dir is not None and not problems:
        proc, r, w = _start_modules(spec, backend, modules_dir)
        if procs is not None:
            procs.append(proc)
        launch.pass_fds = (r, w)
        launch.env["RGYM_MLGYM_CALL_FDS"] = f"{r},{w}"
    return launch
