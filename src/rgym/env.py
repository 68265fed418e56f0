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
import tempfile
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import gymnasium
from gymnasium import spaces

from rgym.budget import Budget
from rgym.errors import SandboxUnavailable
from rgym.grading import Grade, GradeStatus, grade
from rgym.grading.runner import better
from rgym.sandbox import WORKSPACE, EpisodeSandbox, LaunchSpec, Mount, SandboxLimits, get_backend
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


def normalised_score(
    score: float | None, baseline: float | None, reference: float | None, direction: Direction
) -> float | None:
    """0 at the baseline, 1 at the reference, negative when worse (direction-aware)."""
    if score is None or baseline is None or reference is None or reference == baseline:
        return None
    return (score - baseline) / (reference - baseline)


class ResearchEnv(gymnasium.Env[str, str]):
    metadata = {"render_modes": ["ansi"]}

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
        self.tool_dirs = [Path(d) for d in tool_dirs or []]
        """Folders of commands (the agent's tools) mounted read-only and put first on PATH."""
        self.observation_space = spaces.Text(max_length=MAX_TEXT)
        self.action_space = spaces.Text(max_length=MAX_TEXT)
        self.sandbox: EpisodeSandbox | None = None
        self.workspace: Path | None = None
        self.data = None
        self._last_obs = ""
        self._done = True

    # --- lifecycle -------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._teardown()
        t0 = time.monotonic()
        self.data = prepare_data(self.spec_, self.variant_name)
        self.workspace = Path(tempfile.mkdtemp(prefix=f"rgym-{self.spec_.id}-"))
        if self.spec_.starter:
            shutil.copytree(self.spec_.path(self.spec_.starter), self.workspace, dirs_exist_ok=True)
        if self.spec_.mlgym:
            for rel in self.spec_.mlgym.starter_code:
                src = self.spec_.path(rel)
                dst = self.workspace / src.name
                (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
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
            env={"RGYM_TOOL_PATH": ":".join(path_dirs)} if path_dirs else {},
            limits=SandboxLimits(cpus=res.cpus, memory_mb=res.memory_mb, pids=res.pids),
            hidden=[Path(p) for p in self._hidden()],
        )
        if self.backend.isolated is False:
            (self.workspace / "data").rmdir()
        self.sandbox = EpisodeSandbox(self.backend, launch, cap=self.output_cap)
        self._start = time.monotonic()
        self.steps = 0
        self.validations = 0
        self.best_dev: float | None = None
        self.dev_scores: list[float] = []
        self.test_grade: Grade | None = None
        self.exit_status: str | None = None
        self._done = False
        prompt = self.prompt()
        info = self._info(reset_seconds=time.monotonic() - t0)
        info["sandbox"] = {
            "backend": self.backend.name,
            "isolated": self.backend.isolated,
            "limits_in_force": self.sandbox.limits_in_force,
        }
        self._emit(
            "reset",
            seed=seed,
            seconds=info["timings"]["reset_seconds"],
            limits_in_force=self.sandbox.limits_in_force,
            sandbox=self.backend.name,
            isolated=self.backend.isolated,
        )
        self._last_obs = prompt
        return prompt, info

    def _hidden(self) -> list[str]:
        from rgym.sandbox.bwrap import package_dirs

        return [str(p) for p in package_dirs(self.spec_.data.private_packages)]

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
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
        if self.workspace is not None:
            shutil.rmtree(self.workspace, ignore_errors=True)
            self.workspace = None

    # --- the prompt --------------------------------------------------------------------------

    def prompt(self) -> str:
        s = self.spec_
        parts = [f"# Task: {s.name}", s.description.strip()]
        if self.variant.description:
            parts.append(self.variant.description.strip())
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
                self.exit_status = ExitStatus.infra_error
                self._done = True
                self._emit("error", step=self.steps, kind="infra_error", message=str(e))
                obs = f"The sandbox failed: {e}"
                return obs, 0.0, False, True, self._info()
            obs = res.output if res.output.strip() else f"(no output; exit code {res.exit_code})"
            if res.exit_code != 0 and res.output.strip() and not res.timed_out:
                obs += f"\n(exit code {res.exit_code})"
            extra["exec"] = res.model_dump(exclude={"output"})
            self._emit("observation", step=self.steps, observation=obs, **extra["exec"])
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
        try:
            g = grade(self.spec_, self.variant_name, self.workspace, split, self.backend, self.data)
        except Exception as e:  # a broken grader is an infrastructure failure, typed
            g = Grade(
                split=split, status=GradeStatus.grader_error, message=f"{type(e).__name__}: {e}"
            )
        self._emit("evaluation", step=self.steps, **g.model_dump())
        return g

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
        return normalised_score(
            score,
            self.spec_.baseline_score(self.variant_name),
            self.spec_.reference_score(self.variant_name),
            self.spec_.metric.direction,
        )

    # --- info and record --------------------------------------------------------------------

    def _info(self, **extra) -> dict[str, Any]:
        elapsed = time.monotonic() - self._start if hasattr(self, "_start") else 0.0
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
                "wall_seconds": round(elapsed, 3),
                "max_wall_seconds": self.budget.max_wall_seconds,
            },
            "timings": {"reset_seconds": extra.pop("reset_seconds", None)}
            if "reset_seconds" in extra
            else {},
            **extra,
        }

    def _emit(self, type_: str, **data) -> None:
        if self.record is not None:
            self.record.event(type_, **data)

    def render(self) -> str | None:
        return self._last_obs if self.render_mode == "ansi" else None
