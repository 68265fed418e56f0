"""The wire types of `rgym serve`, as OpenEnv types: an action is a text command, an
observation its text with Gymnasium's terminated/truncated/info, a reset names a task.

OpenEnv serialises an observation as `{"observation": {...fields...}, "reward", "done"}`
(`openenv.core.env_server.serialization.serialize_observation`); rgym's fields are `text`,
`terminated`, `truncated`, `info` and `episode_id`, and `done` is terminated or truncated.
"""

from __future__ import annotations

from typing import Any

from openenv.core.env_server.types import Action, Observation, State
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from rgym.env import MAX_TEXT


class RgymAction(Action):
    """One action: a shell command, `validate` or `submit` (see docs/gymnasium.md)."""

    command: StrictStr = Field(
        max_length=MAX_TEXT,
        description="A shell command, or `validate` (score on the dev split) or `submit` (final).",
    )


class RgymObservation(Observation):
    """What `ResearchEnv.reset`/`step` returned, as one OpenEnv observation."""

    text: str = Field(
        description="The observation: the task prompt after a reset, a "
        "command's output after a step."
    )
    terminated: bool = Field(default=False, description="The agent submitted.")
    truncated: bool = Field(
        default=False,
        description="A budget ran out; the artefact was submitted and graded on this step.",
    )
    info: dict[str, Any] = Field(
        default_factory=dict,
        description="ResearchEnv's info dict (exit status, dev and test scores, budget).",
    )
    episode_id: str = Field(description="This episode's id on the server.")


class RgymState(State):
    """An episode's state: OpenEnv's episode_id and step_count, and which task it runs."""

    task: str | None = None
    variant: str | None = None
    started: bool = Field(default=False, description="reset has been called")
    finished: bool = Field(default=False, description="the episode has ended")
    exit_status: str | None = None
    client_episode_id: str | None = Field(
        default=None, description="the episode_id a client passed to reset (OpenEnv's own)"
    )


class ResetOptions(BaseModel):
    """What a client may choose at reset: the task, its variant, the seed and a step budget."""

    model_config = ConfigDict(extra="forbid")

    task: str | None = Field(
        default=None,
        max_length=200,
        description="Task id (`rgym tasks`); may be left out when the server serves one task.",
    )
    variant: str = Field(default="default", max_length=200)
    seed: int | None = Field(default=None, ge=0, description="Gymnasium reset seed.")
    max_steps: int | None = Field(
        default=None, ge=1, le=100_000, description="Step budget (default: the task's)."
    )
    episode_id: str | None = Field(
        default=None, max_length=255, description="OpenEnv's client label, kept in state."
    )


def describe_validation_error(error: ValidationError) -> str:
    """A pydantic error in one line, naming each field and what was expected (never the input,
    which may be a megabyte of action)."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
