"""The texts an older run's model saw but its record does not hold, rebuilt with rgym's own code.

Runs made since the agent records what it sends hold these texts as `message` events and are
read back exactly (rgym.export.recorded); this module serves the runs recorded before that,
and replays (which have no model, so no messages).

The record keeps every reply and every raw observation; the prompts around them (the system
prompt, the task message, each observation wrapped in `next_step` with its footer) are rendered
again here from the installed rgym's templates, the run's agent options and its task, exactly as
the agent loop renders them. What the record cannot give back is left honest rather than
guessed: the footer's open file and working directory (read from the sandbox at the time) show
as `unknown`, and its wall-clock line is computed from event times (it can differ from what the
model saw by a second). tests/export compare every other byte with what a real model was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rgym.agent.config import AgentConfig
from rgym.agent.history import truncate
from rgym.agent.parsing import observation_message
from rgym.agent.prompts import Prompts
from rgym.agent.state import footer
from rgym.agent.tools import by_name, openai_tools
from rgym.budget import Budget
from rgym.export.episode import Episode, Spent, UnreadableRun

UNKNOWN = "unknown"
"""What a rebuilt footer shows for the open file and working directory (never recorded)."""


@dataclass(frozen=True)
class TaskContext:
    """A task variant as a run met it: its prompt, budget and family."""

    task_id: str
    variant: str
    family: str
    budget: Budget
    prompt: str
    """The env's reset observation (ResearchEnv.prompt)."""
    command_timeout: float


@lru_cache(maxsize=256)
def _task_context(task: str, variant: str, budget_json: str, tasks_dirs: tuple[str, ...]):
    from rgym.env import ResearchEnv
    from rgym.tasks.registry import get_task

    spec = get_task(task, [Path(d) for d in tasks_dirs], check=False)
    var = spec.variant(variant)
    lim = var.limits
    budget = Budget.model_validate_json(budget_json)
    budget = budget.model_copy(  # as ResearchEnv.__init__ fills the gaps
        update={
            "max_steps": budget.max_steps or lim.max_steps,
            "max_wall_seconds": budget.max_wall_seconds or lim.max_wall_seconds,
            "max_validations": lim.max_validations
            if budget.max_validations is None
            else budget.max_validations,
        }
    )
    # the env's own prompt(), on the three attributes it reads (no sandbox is made)
    prompt = ResearchEnv.prompt(SimpleNamespace(spec_=spec, variant=var, budget=budget))
    return TaskContext(spec.id, variant, spec.family, budget, prompt, lim.command_timeout)


def task_context(episode: Episode, extra_tasks_dirs: list[Path]) -> TaskContext:
    """The task of a run, loaded from the run's own task folders and `extra_tasks_dirs`.

    Raises:
        UnreadableRun: the task (or variant) is not installed here.
    """
    m = episode.manifest
    budget = m.get("budget") if isinstance(m.get("budget"), dict) else {}
    dirs = tuple(str(d) for d in [*episode.tasks_dirs, *extra_tasks_dirs])
    try:
        return _task_context(
            str(m.get("task")),
            str(m.get("variant") or "default"),
            Budget.model_validate(budget).model_dump_json(),
            dirs,
        )
    except Exception as e:  # TaskNotFound, a bad task.yaml, an unknown variant, a bad budget
        raise UnreadableRun(
            f"its task {m.get('task')!r} (variant {m.get('variant')!r}) cannot be loaded here "
            f"to rebuild its prompts ({e}); pass --tasks-dir if it is one of your own"
        ) from None


@lru_cache(maxsize=32)
def _prompts(templates_dir: Path | None) -> Prompts:
    """The agent's templates, compiled once per folder (compiling costs more than a run)."""
    return Prompts(templates_dir)


class AgentView:
    """The research agent's side of a run: its options, prompts, tools and footers."""

    def __init__(self, options: dict[str, Any], task: TaskContext, started: float | None):
        from rgym.agent.factory import agent_config

        try:
            self.config: AgentConfig = agent_config(options)
            self.prompts = _prompts(self.config.templates_dir)
        except Exception as e:  # bad options, a templates_dir that is gone or broken
            raise UnreadableRun(
                f"its agent options cannot be used to rebuild prompts ({e})"
            ) from None
        self.task, self.started = task, started
        self.specs = by_name(memory=self.config.memory)
        self.tools = openai_tools(self.specs) if self.config.protocol == "tools" else None

    def system(self) -> dict[str, Any]:
        return self.prompts.system(self.config, self.specs, self.task.command_timeout)

    def task_message(self, at: float | None, spent: Spent) -> dict[str, Any]:
        return self.prompts.message(
            "user", "task", task=self.task.prompt, **self.footer(at, spent, 0, 0)
        )

    def observation(
        self,
        observation: str,
        reply: dict[str, Any],
        at: float | None,
        spent: Spent,
        step: int,
        validations: int,
    ) -> dict[str, Any]:
        obs = truncate(observation, self.config.max_observation_chars)
        values = self.footer(at, spent, step, validations)
        text = self.prompts.render("next_step", observation=obs, **values)
        return observation_message(text, reply)

    def format_error(self, reason: str, reask: int) -> dict[str, Any]:
        c = self.config
        return self.prompts.message(
            "user",
            "format_error",
            reason=reason,
            protocol=c.protocol,
            left=c.max_reasks - reask + 1,
        )

    def footer(self, at: float | None, spent: Spent, step: int, validations: int) -> dict[str, Any]:
        """The footer's values as `DefaultAgent.footer` computed them at time `at`."""
        b = self.task.budget
        wall = b.max_wall_seconds
        elapsed = (at - self.started) if at is not None and self.started is not None else 0.0
        remaining = {
            "tokens": None if b.max_tokens is None else b.max_tokens - spent.tokens,
            "cost_usd": None if b.max_cost_usd is None else b.max_cost_usd - spent.cost_usd,
            "wall_s": None if not wall else wall - max(elapsed, 0.0),
        }
        env = SimpleNamespace(budget=b, validations=validations)
        return {"open_file": UNKNOWN, "cwd": UNKNOWN, **footer(env, remaining, step)}
