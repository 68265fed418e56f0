"""One scored run: config -> run directory -> env + agent -> result.json."""

from __future__ import annotations

import hashlib
import json
import platform
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from rgym.agent.base import AgentStats, StepCallback
from rgym.budget import Budget
from rgym.env import ExitStatus, ResearchEnv
from rgym.errors import RgymError, SandboxUnavailable
from rgym.runs.integrity import Integrity, integrity_of
from rgym.runs.record import RunRecord
from rgym.tasks.registry import get_task


class RunConfig(BaseModel):
    """Everything that defines a run; written to manifest.json with its hash."""

    task: str
    variant: str = "default"
    sandbox: str = "bwrap"
    agent: str = "replay"
    """replay (a demonstration or actions file) or default (the LLM research agent)."""
    model: str | None = None
    actions: Path | None = None
    """replay: a YAML/JSON list of actions or an earlier run; default: the task's demo."""
    seed: int = 0
    seed_mode: str = "secret"
    """secret: test sets and test-time seeds derive from this installation's private key;
    public (`--public-seeds`): from the task's public seed, for exactly reproducible numbers."""
    max_disk_mb: int | None = None
    """Disk limit for the workspace, /tmp and /dev/shm (None: the task's resources.disk_mb)."""
    cpus: float | None = None
    """CPU quota of the episode's sandbox (None: the task's resources.cpus)."""
    budget: Budget = Field(default_factory=Budget)
    runs_dir: Path = Path("runs")
    run_id: str | None = None
    tasks_dirs: list[Path] = Field(default_factory=list)
    agent_options: dict[str, Any] = Field(default_factory=dict)
    """Options for the agent (model kwargs, protocol, ...); passed through to its factory."""

    def config_hash(self) -> str:
        data = self.model_dump(mode="json", exclude={"run_id", "runs_dir"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class RunTotals(BaseModel):
    steps: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    wall_seconds: float = 0.0
    validations: int = 0


class RunResult(BaseModel):
    """result.json: written last, also for runs that failed."""

    run_id: str
    run_dir: Path
    task_id: str
    variant: str
    agent: str
    model: str | None
    seed: int
    sandbox: str
    exit_status: str
    ended_by: str | None = None
    """What ended the episode: submit, or the budget that ran out (kept when nothing scored)."""
    message: str = ""
    metric: str
    direction: str
    baseline_score: float | None
    """The baseline the normalised score uses: measured on this run's test set where the task
    can be (see scores_source), else task.yaml's."""
    reference_score: float | None
    published_baseline_score: float | None = None
    """task.yaml's numbers, for display."""
    published_reference_score: float | None = None
    scores_source: str | None = None
    """Where baseline_score/reference_score come from: measured (this test set), task.yaml, or
    a mix (e.g. 'baseline measured, reference task.yaml')."""
    dev_scores: list[float] = Field(default_factory=list)
    best_dev_score: float | None = None
    test_score: float | None = None
    test_metrics: dict[str, float] = Field(default_factory=dict)
    normalised_score: float | None = None
    totals: RunTotals = Field(default_factory=RunTotals)
    integrity: Integrity | None = None
    """The conditions that produced the score (isolation, limits, seeds, grader, artefact)."""


def make_agent(config: RunConfig, spec):
    if config.agent == "replay":
        from rgym.agent.replay import ReplayAgent, load_actions

        if config.actions is not None:
            return ReplayAgent(load_actions(config.actions), label=Path(config.actions).name)
        if not spec.demo:
            raise RgymError(
                f"task {spec.id!r} ships no demonstration; pass --actions FILE or --model MODEL"
            )
        return ReplayAgent(load_actions(spec.path(spec.demo)), label="demo")
    if config.agent == "default":
        from rgym.agent.factory import make_default_agent  # issue: the research agent

        return make_default_agent(config)
    raise RgymError(f"unknown agent {config.agent!r}; use 'replay' or 'default'")


def new_run_id(config: RunConfig) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]
    who = (config.model or config.agent).replace("/", "_").replace(":", "_")
    return f"{config.task.replace('/', '_')}__{who}__s{config.seed}__{stamp}"


def run(
    config: RunConfig, *, on_step: StepCallback | None = None, on_start=None, on_progress=None
) -> RunResult:
    """Run one episode and leave a complete run record, whatever happens."""
    from rgym import __version__

    spec = get_task(config.task, config.tasks_dirs)
    agent = make_agent(config, spec)
    run_id = config.run_id or new_run_id(config)
    record = RunRecord(Path(config.runs_dir) / run_id)
    record.write_manifest(
        {
            "task": spec.id,
            "task_version": spec.version,
            "variant": config.variant,
            "agent": agent.name,
            "model": agent.model_name,
            "seed": config.seed,
            "sandbox": config.sandbox,
            "budget": config.budget,
            "config": config,
            "config_hash": config.config_hash(),
            "rgym_version": __version__,
            "python": platform.python_version(),
            "host": platform.platform(),
            "started": datetime.now(UTC).isoformat(),
        }
    )
    start = time.monotonic()
    env = None
    stats = AgentStats()
    message = ""
    status: str | None = None
    try:
        env = ResearchEnv(
            spec,
            variant=config.variant,
            sandbox=config.sandbox,
            budget=config.budget,
            record=record,
            tool_dirs=getattr(agent, "tool_dirs", None),
            seed_mode=config.seed_mode,
            max_disk_mb=config.max_disk_mb,
            cpus=config.cpus,
            progress=on_progress,
        )
        obs, info = env.reset(seed=config.seed)
        if on_start:
            on_start(env, record)
        stats = agent.run(env, obs, info, on_step=on_step)
        if env.exit_status is None:  # the agent stopped without submitting
            env.exhaust("agent_stopped")
        status = env.exit_status
    except SandboxUnavailable as e:
        status, message = ExitStatus.infra_error, str(e)
    except KeyboardInterrupt:  # Ctrl-C, or a batch stopping its runs: record it, then stop
        status, message = ExitStatus.interrupted, "interrupted before the episode ended"
        record.event("error", kind=str(status), message=message)
        raise
    except Exception as e:
        status = ExitStatus.agent_error
        if isinstance(e, RgymError):
            message = str(e)
        else:
            message = f"{type(e).__name__}: {e}"
        record.event("error", kind=str(status), message=message, traceback=traceback.format_exc())
    finally:
        result = _result(
            config, spec, agent, record, env, stats, status, message, time.monotonic() - start
        )
        if env is not None:
            if env.artifact_snapshot is None and env.workspace is not None:
                env.snapshot_for_record()  # nothing was test-graded: keep what is there
            if env.artifact_snapshot is not None:  # the snapshot that was scored, never the
                record.save_artifact(  # workspace itself (the agent controls that)
                    env.artifact_snapshot, spec.artifact.path, max_bytes=spec.artifact.max_bytes
                )
            env.close()
        record.write_result(result.model_dump(mode="json"))
        record.close()
    return result


def _result(config, spec, agent, record, env, stats, status, message, seconds) -> RunResult:
    tg = env.test_grade if env is not None else None
    if tg is not None and not tg.ok and not message:
        message = tg.message
    agent_stats = getattr(agent, "stats", None) or stats
    if env is not None:
        integrity = integrity_of(env)
    else:
        integrity = Integrity(sandbox=config.sandbox, isolated=config.sandbox != "local")
    from rgym.tasks.baselines import normalising_scores

    norm_base, norm_ref, scores_source = normalising_scores(
        spec, config.variant, getattr(env, "measured", None)
    )
    return RunResult(
        integrity=integrity,
        run_id=record.run_id,
        run_dir=record.root,
        task_id=spec.id,
        variant=config.variant,
        agent=agent.name,
        model=agent.model_name,
        seed=config.seed,
        sandbox=config.sandbox,
        exit_status=str(status or (env.exit_status if env else ExitStatus.infra_error)),
        ended_by=getattr(env, "ended_by", None),
        message=message,
        metric=spec.metric.name,
        direction=str(spec.metric.direction),
        baseline_score=norm_base,
        reference_score=norm_ref,
        published_baseline_score=spec.baseline_score(config.variant),
        published_reference_score=spec.reference_score(config.variant),
        scores_source=scores_source,
        dev_scores=env.dev_scores if env else [],
        best_dev_score=env.best_dev if env else None,
        test_score=tg.score if tg is not None else None,
        test_metrics=tg.metrics if tg is not None else {},
        normalised_score=env.normalise(tg.score) if tg is not None and tg.ok else None,
        totals=RunTotals(
            steps=env.steps if env else 0,
            validations=env.validations if env else 0,
            wall_seconds=round(seconds, 3),
            **agent_stats.model_dump(),
        ),
    )
