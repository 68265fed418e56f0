"""One served episode as an OpenEnv `Environment`: a `ResearchEnv` chosen at reset.

The methods block (they run sandbox commands and graders); the server calls them from worker
threads, one at a time per episode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import EnvironmentMetadata
from pydantic import ValidationError

from rgym.budget import Budget
from rgym.env import ResearchEnv
from rgym.errors import RgymError
from rgym.serve.config import ServeConfig
from rgym.serve.errors import BadRequest, EpisodeStateError
from rgym.serve.protocol import (
    ResetOptions,
    RgymAction,
    RgymObservation,
    RgymState,
    describe_validation_error,
)
from rgym.tasks.registry import all_tasks, get_task, resolve_id
from rgym.tasks.spec import TaskSpec

T = TypeVar("T")


class FirstResets:
    """Serialises the first reset of each task variant in this server: it prepares the task's
    data and measures its baseline (seconds, cached after), which two threads must not race."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_key: dict[tuple[str, str], threading.Lock] = {}
        self._done: set[tuple[str, str]] = set()

    def run(self, key: tuple[str, str], reset: Callable[[], T]) -> T:
        if key in self._done:
            return reset()
        with self._lock:
            lock = self._per_key.setdefault(key, threading.Lock())
        with lock:
            result = reset()
            self._done.add(key)
            return result


class TaskCatalog:
    """The tasks this server lets a client reset to."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.tasks: dict[str, TaskSpec] = {}
        if config.tasks:
            for task in config.tasks:
                spec = get_task(task, config.tasks_dirs or None)
                self.tasks[spec.id] = spec
        else:
            self.tasks = dict(all_tasks(config.tasks_dirs or None))

    def choose(self, options: ResetOptions) -> tuple[TaskSpec, str]:
        """The task and variant a reset asks for, or BadRequest naming what is served."""
        served = ", ".join(sorted(self.tasks))
        if options.task is None:
            if len(self.tasks) == 1:
                spec = next(iter(self.tasks.values()))
            else:
                raise BadRequest(f"reset needs a task: one of {served}")
        else:
            spec = self._find(options.task)
        if options.variant not in spec.variants:
            raise BadRequest(
                f"task {spec.id!r} has no variant {options.variant!r}; it has "
                f"{', '.join(spec.variants)}"
            )
        return spec, options.variant

    def _find(self, task: str) -> TaskSpec:
        # by id or gym id only: a client's string is never a path (a task folder runs code)
        tid = resolve_id(task, self.tasks)
        if tid is not None:
            return self.tasks[tid]
        served = ", ".join(sorted(self.tasks))
        raise BadRequest(f"this server does not serve task {task!r}; it serves {served}")


class RgymEnvironment(Environment[RgymAction, RgymObservation, RgymState]):
    """OpenEnv's Environment over one ResearchEnv at a time (a reset to another task, variant
    or step budget closes the old one and starts the new)."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(
        self,
        episode_id: str,
        config: ServeConfig,
        catalog: TaskCatalog,
        first_resets: FirstResets,
    ) -> None:
        super().__init__()
        self.episode_id = episode_id
        self.config = config
        self.catalog = catalog
        self.first_resets = first_resets
        self.env: ResearchEnv | None = None
        self._made_for: tuple[str, str, int | None] | None = None
        self._client_label: str | None = None
        self._started = False

    def reset(
        self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any
    ) -> RgymObservation:
        """OpenEnv's reset: `task`, `variant`, `max_steps` come as keyword arguments."""
        try:
            options = ResetOptions(seed=seed, episode_id=episode_id, **kwargs)
        except ValidationError as e:
            raise BadRequest(f"reset: {describe_validation_error(e)}") from None
        return self.reset_with(options)

    def reset_with(self, options: ResetOptions) -> RgymObservation:
        spec, variant = self.catalog.choose(options)
        wanted = (spec.id, variant, options.max_steps)
        if self.env is None or self._made_for != wanted:
            self.close()
            try:
                self.env = ResearchEnv(
                    spec,
                    variant=variant,
                    budget=Budget(max_steps=options.max_steps),
                    shaping=self.config.shaping,
                    tasks_dirs=self.config.tasks_dirs or None,
                )
            except RgymError as e:
                raise BadRequest(str(e)) from None
            self._made_for = wanted
        env = self.env
        self._client_label = options.episode_id
        self._started = False
        text, info = self.first_resets.run((spec.id, variant), lambda: env.reset(seed=options.seed))
        self._started = True
        return RgymObservation(text=text, info=info, episode_id=self.episode_id)

    def step(self, action: RgymAction, timeout_s: float | None = None, **kwargs: Any):
        """One action; `timeout_s` is ignored (each task has its own command timeout)."""
        if self.env is None or not self._started:
            raise EpisodeStateError("step before reset: reset the episode first (name a task)")
        if self.env.exit_status is not None:
            raise EpisodeStateError(
                f"the episode has ended ({self.env.exit_status}); reset it to start another"
            )
        text, reward, terminated, truncated, info = self.env.step(action.command)
        return RgymObservation(
            text=text,
            reward=reward,
            done=terminated or truncated,
            terminated=terminated,
            truncated=truncated,
            info=info,
            episode_id=self.episode_id,
        )

    @property
    def state(self) -> RgymState:
        env = self.env
        status = env.exit_status if env is not None and self._started else None
        return RgymState(
            episode_id=self.episode_id,
            step_count=env.steps if env is not None and self._started else 0,
            task=env.spec_.id if env is not None else None,
            variant=env.variant_name if env is not None else None,
            started=self._started,
            finished=status is not None,
            exit_status=str(status) if status else None,
            client_episode_id=self._client_label,
        )

    def get_metadata(self) -> EnvironmentMetadata:
        return metadata()

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None
            self._made_for = None
            self._started = False


def metadata() -> EnvironmentMetadata:
    from rgym import __version__

    return EnvironmentMetadata(
        name="rgym",
        description="ML research tasks in sandboxes: text actions (shell commands, validate, "
        "submit), the normalised test score as the final reward.",
        version=__version__,
    )
