"""`rgym verify`: the health check of the catalogue.

For each task: prepare its data, run its baseline and its reference solution in real sandboxes,
score both with the real test grader, and check that the reference beats the baseline. With
public seeds (`rgym verify --public-seeds`), whose test sets are the ones task.yaml's numbers were
measured on, it also checks that the baseline reproduces the score written in task.yaml; with this
installation's secret test sets those numbers are only a guide (another sample of the same task).
The scores measured here are what episodes normalise with (rgym.tasks.baselines), so `verify`
also refreshes that cache.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel

from rgym.budget import Budget
from rgym.tasks.spec import Solution, TaskSpec

TOLERANCE = 0.02
"""Relative tolerance for 'the baseline reproduces its published score' (sampling noise)."""


class SolutionScore(BaseModel):
    score: float | None
    status: str
    message: str = ""
    seconds: float
    """The whole solution: its episode, its command and its grading."""
    grade_seconds: float | None = None
    """Its test grading alone."""


class VerifyRow(BaseModel):
    task: str
    variant: str
    seed_mode: str = "secret"
    baseline: SolutionScore | None
    reference: SolutionScore | None
    normalised_reference: float | None
    seconds: float
    data_seconds: float | None = None
    """Preparing the variant's data (0 when it was cached)."""
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def score_solution(
    spec: TaskSpec,
    solution: Solution,
    variant: str = "default",
    sandbox: str = "bwrap",
    *,
    seed_mode: str = "secret",
) -> SolutionScore:
    """Run a solution's command in a fresh episode and score its artefact on the test split."""
    from rgym.env import ResearchEnv

    start = time.monotonic()
    env = ResearchEnv(
        spec,
        variant=variant,
        sandbox=sandbox,
        budget=Budget(max_steps=3, max_validations=0),
        seed_mode=seed_mode,
    )
    try:
        env.reset(seed=0)
        if solution.files:
            spec.lay_out(solution.files, env.workspace)
            env.give_to_agent(env.workspace)
        res = env.sandbox.exec(solution.command, timeout=env.variant.limits.command_timeout)
        env.steps += 1
        if res.exit_code != 0:
            return SolutionScore(
                score=None,
                status="command_failed",
                seconds=time.monotonic() - start,
                message=f"`{solution.command}` exited {res.exit_code}:\n{res.output[-1500:]}",
            )
        env.step("submit")
        g = env.test_grade
        return SolutionScore(
            score=g.score,
            status=str(g.status),
            message=g.message,
            seconds=time.monotonic() - start,
            grade_seconds=g.seconds,
        )
    finally:
        env.close()


def verify_task(
    spec: TaskSpec, variant: str = "default", sandbox: str = "bwrap", *, seed_mode: str = "secret"
) -> VerifyRow:
    from rgym.env import normalised_score
    from rgym.grading.runner import better
    from rgym.sandbox import gpu
    from rgym.tasks import stack
    from rgym.tasks.baselines import measured_scores
    from rgym.tasks.data import prepare_data

    start = time.monotonic()
    problems: list[str] = []
    stack.check(spec)  # what this machine cannot run is said before any data is made
    gpu.choose(spec.variant(variant).resources.gpus, f"variant {variant!r} of task {spec.id!r}")
    data = prepare_data(spec, variant, seed_mode=seed_mode)
    data_seconds = time.monotonic() - start
    measured = measured_scores(spec, variant, data, sandbox=sandbox, force=True)
    base, ref = measured.baseline_run, measured.reference_run
    for name, s in (("baseline", base), ("reference", ref)):
        if s is not None and s.score is None:
            problems.append(f"{name} was not scored ({s.status}): {s.message}")
    if base and ref and base.score is not None and ref.score is not None:
        if not better(ref.score, base.score, spec.metric.direction):
            problems.append(f"reference {ref.score:.4f} does not beat baseline {base.score:.4f}")
    published = spec.baseline_score(variant)
    if seed_mode == "public" and base and base.score is not None and published is not None:
        if abs(base.score - published) > TOLERANCE * max(abs(published), 1e-9):
            problems.append(f"baseline scored {base.score:.4f}; task.yaml says {published:.4f}")
    norm = None  # this test set's reference against task.yaml's: about 1 when they agree
    if ref and ref.score is not None:
        norm = normalised_score(
            ref.score, measured.baseline, spec.reference_score(variant), spec.metric.direction
        )
    return VerifyRow(
        task=spec.id,
        variant=variant,
        seed_mode=seed_mode,
        baseline=base,
        reference=ref,
        normalised_reference=norm,
        seconds=time.monotonic() - start,
        data_seconds=data_seconds,
        problems=problems,
    )


def default_tasks(ids: list[str] | None, tasks_dirs: list[Path] | None = None) -> list[TaskSpec]:
    from rgym.tasks.registry import all_tasks, get_task

    if ids:
        return [get_task(i, tasks_dirs) for i in ids]
    return list(all_tasks(tasks_dirs).values())
