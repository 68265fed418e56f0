"""ResearchEnv: one task as a Gymnasium environment over text actions, with real rewards.

An action is a shell command, or one of the two actions the env itself recognises: `validate`
(score the artefact on the dev split; limited by the validation budget) and `submit` (score it
on the test split once and end the episode). Reward is 0 on ordinary steps and, on the last step,
the normalised test score (0 = baseline, 1 = reference). When the step or wall-clock budget runs
out the env submits whatever artefact exists, as MLGym does, and says which budget ended it.
"""

from __future__ import annotations

import os
import shutil
import time
import traceback
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import gymnasium

from rgym.budget import Budget
from rgym.errors import SandboxUnavailable
from rgym.grading import Grade, GradeStatus, grade
from rgym.grading.runner import agent_hidden_paths, better
from rgym.sandbox import (
    WORKSPACE,
    EpisodeSandbox,
    EpisodeStorage,
    LaunchSpec,
    Mount,
    SandboxLimits,
    get_backend,
    gpu,
    make_episode_storage,
)
from rgym.sandbox.base import compute_env
from rgym.sandbox.scratch import remove_tree, scratch_dir
from rgym.spaces import ActionText, AnyText
from rgym.tasks import stack
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from rgym.tasks.spec import Direction, TaskSpec

MAX_TEXT = 1_000_000
FAILED_SUBMISSION_REWARD = -1.0
"""Terminal reward when nothing could be scored: worse than the baseline (0), so an RL-trained
agent is never paid for leaving no artefact."""


class ExitStatus(StrEnum):
    submitted = "submitted"
    auto_submitted = "auto_submitted"
    no_artifact = "no_artifact"
    invalid_artifact = "invalid_artifact"
    agent_error = "agent_error"
    infra_error = "infra_error"
    interrupted = "interrupted"
    """Stopped from outside (Ctrl-C, a batch's stop or wall limit) before it ended: not scored,
    and a batch re-runs it on --resume."""


def normalised_score(
    score: float | None, baseline: float | None, reference: float | None, direction: Direction
) -> float | None:
    """0 at the baseline, 1 at the reference, negative when worse (direction-aware)."""
    if score is None or baseline is None or reference is None or reference == baseline:
        return None
    return (score - baseline) / (reference - baseline)


class ResearchEnv(gymnasium.Env[str, str]):
    # render_fps means nothing for text (render is the last observation), but Gymnasium's
    # checker asks every env with a render mode for one; Gymnasium's own text envs declare one
    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        task: str | TaskSpec,
        variant: str = "default",
        sandbox: str = "bwrap",
        budget: Budget | None = None,
        record=None,
        shaping: bool = False,
        tasks_dirs: list[Path] | None = None,
        output_cap: int = 100_000,
        tool_dirs: list[Path] | None = None,
        render_mode: str | None = None,
        seed_mode: str = "secret",
        max_disk_mb: int | None = None,
        cpus: float | None = None,
        progress: Callable[[str], None] | None = None,
    ):
        self.spec_ = task if isinstance(task, TaskSpec) else get_task(task, tasks_dirs)
        self.variant_name = variant
        self.variant = self.spec_.variant(variant)
        self.backend = get_backend(sandbox)
        budget = budget or Budget()
        lim = self.variant.limits
        self.budget = budget.model_copy(
            update={
                "max_steps": budget.max_steps or lim.max_steps,
                "max_wall_seconds": budget.max_wall_seconds or lim.max_wall_seconds,
                "max_validations": lim.max_validations
                if budget.max_validations is None
                else budget.max_validations,
            }
        )
        self.record = record
        self.shaping = shaping
        self.output_cap = output_cap
        self.render_mode = render_mode
        self.seed_mode = seed_mode
        """secret: test sets and test-time seeds derive from the installation's private key;
        public (`--public-seeds`): from the task's public seed, for exactly reproducible numbers."""
        self.tool_dirs = [Path(d) for d in tool_dirs or []]
        """Folders of commands (the agent's tools) mounted read-only and put first on PATH."""
        # any str (see rgym.spaces); an observation is at most the output cap plus short notes
        self.observation_space = AnyText(max_length=max(MAX_TEXT, output_cap + 100_000))
        self.action_space = ActionText(max_length=MAX_TEXT)
        """sample() gives one of a few harmless read-only commands (rgym.spaces.HARMLESS_COMMANDS),
        never `validate` or `submit`; seed it with `env.action_space.seed(n)`."""
        self.sandbox: EpisodeSandbox | None = None
        self.workspace: Path | None = None
        self.storage: EpisodeStorage | None = None
        self.max_disk_mb = max_disk_mb
        """`rgym run --max-disk MB`: overrides the task's resources.disk_mb."""
        self.cpus = cpus
        self.progress = progress
        """Told about slow one-off work in reset (measuring the baseline), for a CLI to show."""
        """Overrides the task's resources.cpus (the sandbox's CPU quota); a batch sets it so
        runs fit its CPU slots."""
        self.gpus: list[str] = []
        """The GPUs this episode's sandbox may use: only a variant that asks for GPUs gets any,
        chosen among those rgym may use here (CUDA_VISIBLE_DEVICES, as a batch sets it)."""
        self.data = None
        self.test_grade: Grade | None = None
        self.exit_status: str | None = None
        self.artifact_snapshot: Path | None = None
        """Host-owned snapshot of the artefact the test grader scored (for the run record)."""
        # what a run's result reads, also when reset was cut short (Ctrl-C during reset)
        self.steps = 0
        self.validations = 0
        self.best_dev: float | None = None
        self.dev_scores: list[float] = []
        self.ended_by: str | None = None
        self._last_obs = ""
        self._done = True

    # --- lifecycle -------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode: a fresh workspace and sandbox. Returns the task prompt and info.

        Args:
            seed: Seeds `self.np_random`, Gymnasium's generator, which rgym itself never draws
                from (it is there for wrappers and subclasses), and is written to the run record.
                It deliberately changes nothing else: the task's data, its dev/test split and
                every test-time seed come from the installation's private key (or the task's
                public seed, under `seed_mode="public"`), so the same artefact scores the same
                under any reset seed and a score cannot be picked by choosing one.
                As in Gymnasium, it does not seed `action_space` (`env.action_space.seed(n)`).
            options: Accepted and ignored.
        """
        super().reset(seed=seed)
        self._teardown()
        t0 = time.monotonic()
        # what this machine cannot run is said before any data is made or baseline measured
        stack.check(self.spec_)
        self.gpus = gpu.choose(
            self.variant.resources.gpus,
            f"variant {self.variant_name!r} of task {self.spec_.id!r}",
        )
        self.data = prepare_data(self.spec_, self.variant_name, seed_mode=self.seed_mode)
        from rgym.tasks.baselines import episode_scores  # baseline/reference on this test set

        self.measured = episode_scores(
            self.spec_, self.variant_name, self.data, self.backend, progress=self.progress
        )
        res = self.variant.resources
        # workspace, /tmp and /dev/shm under one disk limit (a tmpfs in a scratch folder that
        # the next rgym start removes if this process crashes)
        self.storage = make_episode_storage(
            self.backend, self.max_disk_mb or res.disk_mb, memory_mb=res.memory_mb
        )
        self.workspace = self.storage.workspace
        self.spec_.lay_out(self.spec_.starter, self.workspace)
        if self.spec_.mlgym:  # as MLGym does: each entry under its own name, evaluators 0555
            from rgym.tasks.mlgym_data import workspace_layout

            ml = self.spec_.mlgym
            secret = {(self.spec_.root / s).resolve() for s in ml.secret_files}
            for rel, src in workspace_layout(self.spec_.root, ml.starter_code).items():
                if src.resolve() in secret:  # MLGym declares secret_files; rgym keeps them out
                    continue
                (self.workspace / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, self.workspace / rel)
                if ml.evaluation_read_only and rel in ml.evaluation_paths:
                    (self.workspace / rel).chmod(0o555)
        (self.workspace / "data").mkdir(exist_ok=True)
        self.give_to_agent(self.workspace)
        res = self.variant.resources
        tools = [Mount(d, f"/opt/rgym-tools/{i}") for i, d in enumerate(self.tool_dirs)]
        path_dirs = [self.backend.visible_path(m) for m in tools]
        launch = LaunchSpec(
            argv=[],
            mounts=[
                Mount(self.workspace, WORKSPACE, writable=True),
                Mount(self.data.public, f"{WORKSPACE}/data"),
                *tools,
            ],
            env={
                **compute_env(self.cpus or res.cpus),
                **({"RGYM_TOOL_PATH": ":".join(path_dirs)} if path_dirs else {}),
            },
            limits=SandboxLimits(
                cpus=self.cpus or res.cpus, memory_mb=res.memory_mb, pids=res.pids
            ),
            hidden=agent_hidden_paths(self.spec_),
            gpus=self.gpus,
        )
        if self.backend.isolated is False:
            (self.workspace / "data").rmdir()
        self.sandbox = EpisodeSandbox(
            self.backend, launch, cap=self.output_cap, storage=self.storage
        )
        self._start = time.monotonic()
        self.steps = 0
        self.validations = 0
        self.best_dev: float | None = None
        self.dev_scores: list[float] = []
        self.test_grade: Grade | None = None
        self.exit_status: str | None = None
        self.ended_by: str | None = None  # not the last episode's
        self._done = False
        prompt = self.prompt()
        self._timings = {"reset_seconds": time.monotonic() - t0, "last_command_seconds": None}
        info = self._info()
        info["sandbox"] = {
            "backend": self.backend.name,
            "isolated": self.backend.isolated,
            "limits_in_force": self.sandbox.limits_in_force,
        }
        self._emit(
            "reset",
            seed=seed,
            seconds=self._timings["reset_seconds"],
            limits_in_force=self.sandbox.limits_in_force,
            sandbox=self.backend.name,
            isolated=self.backend.isolated,
        )
        self._last_obs = prompt
        return prompt, info

    def give_to_agent(self, path: Path) -> None:
        """Make files rgym put in the workspace the agent's own (it runs as another uid)."""
        uid = getattr(self.backend, "agent_uid", None)
        path.chmod(0o755)
        if uid is not None and uid != os.geteuid():
            for p in [path, *path.rglob("*")]:
                os.lchown(p, uid, uid)

    def close(self) -> None:
        self._teardown()
        super().close()

    def _teardown(self) -> None:
        self._drop_snapshot()
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
        if self.storage is not None:  # after the sandbox: unmounts and removes the workspace
            self.storage.close()
            self.storage = None
            self.workspace = None

    # --- the prompt --------------------------------------------------------------------------

    def prompt(self) -> str:
        s = self.spec_
        parts = [f"# Task: {s.name}", s.description.strip()]
        if self.variant.description:
            parts.append(self.variant.description.strip())
        libs = stack.libraries(s)
        if libs:
            gpus = f"GPUs: {len(self.gpus)} (CUDA)" if self.gpus else "No GPU: CPU only."
            parts.append(
                f"Python libraries installed: {', '.join(libs)}. No network: nothing else can "
                f"be installed. {gpus} Long training: start it in the background "
                "(`nohup python train.py > train.log 2>&1 &`) and read its log with later "
                "commands; background jobs live until the episode ends."
            )
        b = self.budget
        parts.append(
            f"Workspace: {WORKSPACE} (data/ is read-only). Budgets: {b.max_steps} steps, "
            f"{b.max_validations} validations, {b.max_wall_seconds:g} s wall-clock; each command "
            f"may run {self.variant.limits.command_timeout:g} s. Actions: a shell command, "
            "`validate` (score your artefact on the dev split) or `submit` (final; ends the "
            "episode)."
        )
        return "\n\n".join(parts)

    # --- stepping ----------------------------------------------------------------------------

    def step(self, action: str):
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        self.steps += 1
        cmd = action.strip()
        self._emit("action", step=self.steps, action=action)
        reward, terminated = 0.0, False
        extra: dict[str, Any] = {}
        if cmd == "submit":
            obs, reward = self._finish(ExitStatus.submitted)
            terminated = True
        elif cmd == "validate":
            obs, reward = self._validate()
        else:
            try:
                # a command may not outlive the wall-clock budget: the budget is a limit
                left = self.budget.max_wall_seconds - (time.monotonic() - self._start)
                timeout = max(0.1, min(self.variant.limits.command_timeout, left))
                res = self.sandbox.exec(action, timeout=timeout)
            except SandboxUnavailable as e:
                # the sandbox died (or sent a malformed reply): grade the artefact that is there;
                # whose doing it was (judged from evidence: OOM kills, exit signal, disk) types
                # the exit status, so killing the sandbox never swaps a bad score for reward 0
                self._emit(
                    "error",
                    step=self.steps,
                    kind=f"sandbox_died:{e.cause}",
                    message=str(e),
                    evidence=e.evidence,
                )
                status = ExitStatus.agent_error if e.cause == "agent" else ExitStatus.infra_error
                note, reward = self._finish(status)
                self.ended_by = f"sandbox_died:{e.cause}"
                obs = f"The sandbox failed ({e.evidence or e}). {note}"
                self._last_obs = obs
                return obs, reward, False, True, self._info()
            obs = res.output if res.output.strip() else f"(no output; exit code {res.exit_code})"
            if res.exit_code != 0 and res.output.strip() and not res.timed_out:
                obs += f"\n(exit code {res.exit_code})"
            # info stays deterministic (no seconds); the record and `timings` keep the time
            extra["exec"] = res.model_dump(exclude={"output", "seconds"})
            self._timings["last_command_seconds"] = res.seconds
            stats = res.model_dump(exclude={"output"})
            self._emit("observation", step=self.steps, observation=obs, **stats)
        truncated = False
        if not terminated:
            kind = self._exhausted()
            if kind is not None:
                note, reward = self._finish(f"{ExitStatus.auto_submitted}:{kind}")
                obs = f"{obs}\n\n{note}"
                truncated = True
        self._last_obs = obs
        return obs, reward, terminated, truncated, self._info(**extra)

    def _exhausted(self) -> str | None:
        if self.steps >= self.budget.max_steps:
            return "steps"
        if time.monotonic() - self._start >= self.budget.max_wall_seconds:
            return "wall"
        return None

    def exhaust(self, kind: str) -> tuple[str, float, dict]:
        """End the episode because a budget the env does not track ran out (cost, tokens): the
        artefact is submitted and scored. Called by agents and harnesses."""
        obs, reward = self._finish(f"{ExitStatus.auto_submitted}:{kind}")
        return obs, reward, self._info()

    def _grade(self, split: str) -> Grade:
        keep = None
        if split == "test":  # the test snapshot is kept: it is what the run record saves
            self._drop_snapshot()
            keep = self.artifact_snapshot = scratch_dir("artifact-")
        try:
            g = grade(
                self.spec_,
                self.variant_name,
                self.workspace,
                split,
                self.backend,
                self.data,
                keep=keep,
            )
        except Exception as e:  # a broken grader is an infrastructure failure, typed
            g = Grade(
                split=split,
                status=GradeStatus.grader_error,
                message=f"rgym could not grade the artefact ({type(e).__name__}); "
                "this is an infrastructure failure, not the agent's",
                detail=traceback.format_exc()[-8000:],
            )
        self._emit("evaluation", step=self.steps, **g.model_dump())
        return g

    def snapshot_for_record(self) -> None:
        """Take a snapshot of the artefact for the run record when none was test-graded (the
        episode ended before a submission); a refused or missing artefact leaves none."""
        from rgym.grading.runner import snapshot_artifact

        self._drop_snapshot()
        into = scratch_dir("artifact-")
        snapshot_artifact(self.spec_, self.workspace, into)
        self.artifact_snapshot = into

    def _drop_snapshot(self) -> None:
        if getattr(self, "artifact_snapshot", None) is not None:
            remove_tree(self.artifact_snapshot)
        self.artifact_snapshot: Path | None = None

    def _validate(self) -> tuple[str, float]:
        if self.validations >= self.budget.max_validations:
            return (
                f"No validations left (budget {self.budget.max_validations}). Keep working, "
                "then `submit`."
            ), 0.0
        self.validations += 1
        g = self._grade("dev")
        left = self.budget.max_validations - self.validations
        if not g.ok:
            return f"Validation failed ({g.status}): {g.message}\n({left} validations left)", 0.0
        self.dev_scores.append(g.score)
        reward = 0.0
        norm = self.normalise(g.score)
        if self.shaping and norm is not None:
            prev = self.normalise(self.best_dev) if self.best_dev is not None else 0.0
            reward = max(0.0, norm - max(prev, 0.0))
        if better(g.score, self.best_dev, self.spec_.metric.direction):
            self.best_dev = g.score
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in g.metrics.items())
        return f"Dev split: {metrics}. ({left} validations left)", reward

    def _finish(self, status: str) -> tuple[str, float]:
        g = self._grade("test")
        self.test_grade = g
        self._done = True
        self.ended_by = status.split(":", 1)[1] if ":" in status else "submit"
        if g.ok:
            self.exit_status = status
            norm = self.normalise(g.score)
            reward = norm if norm is not None else 0.0
            text = f"Submitted. Test {self.spec_.metric.name}: {g.score:.4f}."
        else:
            self.exit_status = {
                GradeStatus.no_artifact: ExitStatus.no_artifact,
                GradeStatus.invalid_artifact: ExitStatus.invalid_artifact,
            }.get(g.status, ExitStatus.infra_error)
            reward = FAILED_SUBMISSION_REWARD
            text = f"Submission could not be scored ({g.status}): {g.message}"
        if status.startswith(ExitStatus.auto_submitted):
            text = (
                f"Budget {status.split(':', 1)[1]!r} exhausted; the artefact was submitted. {text}"
            )
        return text, reward

    def normalise(self, score: float | None) -> float | None:
        """0 at the baseline, 1 at the reference, both measured on this episode's test set
        (rgym.tasks.baselines); task.yaml's numbers only where a task cannot measure them
        (`scores_source` says which)."""
        from rgym.tasks.baselines import normalising_scores

        baseline, reference, self.scores_source = normalising_scores(
            self.spec_, self.variant_name, getattr(self, "measured", None)
        )
        norm = normalised_score(score, baseline, reference, self.spec_.metric.direction)
        return None if norm is None else norm + 0.0  # the baseline earns 0.0, never -0.0

    # --- info and record --------------------------------------------------------------------

    @property
    def timings(self) -> dict[str, float | None]:
        """Wall-clock seconds: the last reset, the episode so far, the last shell command.

        Kept out of `info` on purpose: info is a deterministic function of the task, the budgets
        and the actions (Gymnasium's check_env compares it across runs); the run record's
        `reset` and `observation` events carry the same timings.
        """
        t = getattr(self, "_timings", {})
        return {
            "reset_seconds": t.get("reset_seconds"),
            "wall_seconds": time.monotonic() - self._start if hasattr(self, "_start") else None,
            "last_command_seconds": t.get("last_command_seconds"),
        }

    def _info(self, **extra) -> dict[str, Any]:
        tg = self.test_grade
        return {
            "task": self.spec_.id,
            "variant": self.variant_name,
            "exit_status": str(self.exit_status) if self.exit_status else None,
            "ended_by": getattr(self, "ended_by", None),
            "dev_score": self.dev_scores[-1] if self.dev_scores else None,
            "best_dev_score": self.best_dev,
            "test_score": tg.score if tg else None,
            "test_status": str(tg.status) if tg else None,
            "normalised_test_score": self.normalise(tg.score) if tg else None,
            "budget": {
                "steps": self.steps,
                "max_steps": self.budget.max_steps,
                "validations": self.validations,
                "max_validations": self.budget.max_validations,
                "max_wall_seconds": self.budget.max_wall_seconds,
            },
            **extra,
        }

    def _emit(self, type_: str, **data) -> None:
        if self.record is not None:
            self.record.event(type_, **data)

    def render(self) -> str | None:
        return self._last_obs if self.render_mode == "ansi" else None


class StepBudgetFromTimeLimit(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Makes `gymnasium.make(id, max_episode_steps=N)` set rgym's own step budget to N.

    Gymnasium applies `max_episode_steps` through its `TimeLimit` wrapper, which truncates
    without grading (reward 0, no test score). rgym registers its tasks with this wrapper as an
    additional wrapper, outside `TimeLimit`: it reads N from the spec and sets the env's step
    budget to it, so step N is where rgym auto-submits and grades (`auto_submitted:steps`) and
    where `TimeLimit` truncates; the graded reward is that step's reward.
    """

    def __init__(self, env: gymnasium.Env):
        gymnasium.utils.RecordConstructorArgs.__init__(self)
        gymnasium.Wrapper.__init__(self, env)
        n = env.spec.max_episode_steps if env.spec is not None else None
        inner = env.unwrapped
        if n is not None and isinstance(inner, ResearchEnv):
            inner.budget = inner.budget.model_copy(update={"max_steps": int(n)})
