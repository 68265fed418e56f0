"""The batch spec: the matrix of tasks × agents × seeds a batch runs, and the pool it runs on.

Written as YAML (`rgym batch sweep.yaml`) or built from flags. Fields that define the matrix
decide the run ids; the pool, retries and batch limits may change between a run and its
`--resume`. Every error names the file (or the flags) and the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rgym.budget import Budget
from rgym.errors import ConfigError, RgymError

FLAGS = "the rgym batch flags"
"""What errors name as the source of a spec built from command-line flags."""


class BatchSpecError(ConfigError):
    """A batch spec that does not describe a runnable matrix."""

    def __init__(self, source: str, field: str, expected: str) -> None:
        super().__init__(f"{source}: field {field!r}: {expected}")
        self.source, self.field, self.expected = source, field, expected


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunResources(_Strict):
    """Per-run overrides of a task's declared resources. Memory and GPUs stay the task's: the
    sandbox enforces them, so the pool's slot must match them."""

    cpus: float | None = Field(None, gt=0)
    """The sandbox's CPU quota, and (rounded up) the CPU cores the pool pins the run to."""
    disk_mb: int | None = Field(None, ge=16)
    """Disk for the workspace, /tmp and /dev/shm (the task's resources.disk_mb otherwise)."""


class TaskEntry(_Strict):
    """A task of the matrix: `titanic`, `blotto:tiny`, or {id, variant, resources}."""

    id: str = Field(min_length=1)
    variant: str = "default"
    resources: RunResources = Field(default_factory=RunResources)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            task, _, variant = data.partition(":")
            return {"id": task, "variant": variant or "default"}
        return data


class AgentEntry(_Strict):
    """An agent of the matrix: the replayed demonstration, an actions file, or an LLM agent."""

    agent: str | None = None
    """replay or default; default: `default` when a model is given, else `replay`."""
    model: str | None = None
    """A LiteLLM model string (the default agent)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """The agent's options (`rgym.agent.config.AgentConfig` keys: api_base, temperature, ...)."""
    budget: Budget = Field(default_factory=Budget)
    """Each run's own limits (the task's defaults where unset)."""
    actions: Path | None = None
    """replay: a YAML/JSON list of actions, an earlier run, or an MLGym trajectory."""
    label: str | None = None
    """How the agent appears in run ids and progress (default: the model, the actions file's
    name, or the agent)."""

    @field_validator("budget", mode="before")
    @classmethod
    def _known_limits(cls, v: Any) -> Any:
        if isinstance(v, dict):  # Budget ignores unknown keys; a typo'd limit must not
            unknown = sorted(set(v) - set(Budget.model_fields))
            if unknown:
                raise ValueError(
                    f"Extra inputs are not permitted: {', '.join(unknown)} (limits: "
                    f"{', '.join(Budget.model_fields)})"
                )
        return v

    @model_validator(mode="after")
    def _default_agent(self) -> AgentEntry:
        if self.agent is None:
            self.agent = "default" if self.model else "replay"
        if self.agent not in ("replay", "default"):
            raise ValueError(f"agent must be 'replay' or 'default', got {self.agent!r}")
        if self.agent == "default" and not self.model:
            raise ValueError("the default agent needs a model (for example openai/gpt-4o)")
        return self

    @property
    def who(self) -> str:
        if self.label:
            return self.label
        if self.model:
            return self.model
        if self.actions is not None:
            return f"replay-{self.actions.stem}"
        return str(self.agent)


class BatchSpec(_Strict):
    """A matrix of tasks × agents × seeds, where its records go, and how it is run."""

    name: str = Field("batch", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """The batch's name (the default output folder is `batches/<name>`)."""
    tasks: list[TaskEntry] = Field(min_length=1)
    agents: list[AgentEntry] = Field(default_factory=lambda: [AgentEntry()], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0])
    """A list of seeds, or a count N meaning seeds 0..N-1."""
    sandbox: str = "bwrap"
    seed_mode: Literal["secret", "public"] = "secret"
    resources: RunResources = Field(default_factory=RunResources)
    """Overrides for every task's runs (a task's own `resources` entry wins)."""
    tasks_dirs: list[Path] = Field(default_factory=list)
    """Folders of your own tasks."""

    max_cost_usd: float | None = Field(None, gt=0)
    """The batch's dollars: once spent, nothing new starts (runs in flight finish)."""
    max_wall_seconds: float | None = Field(None, gt=0)
    """The batch's wall clock (this invocation): at it, running runs are interrupted."""
    retries: int = Field(2, ge=0)
    """How often a run that failed on infrastructure (a dead worker, infra_error) is retried."""
    workers: int | None = Field(None, ge=1)
    """The most runs at once (default: as many as the resources allow)."""
    cpus: int | None = Field(None, ge=1)
    """CPU cores the local pool uses (default: all this process may use)."""
    memory_mb: int | None = Field(None, ge=1)
    """Memory the local pool hands out (default: the machine's)."""
    gpus: int | None = Field(None, ge=0)
    """GPUs the local pool hands out (default: CUDA_VISIBLE_DEVICES, else /dev/nvidia*)."""
    backend: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    """An existing Ray cluster (`ray://host:10001` or `auto`); default: a local Ray instance."""
    ray_ship_records: bool = False
    """Ray: write each run's record on its node and ship it back to the driver's folder."""

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            if v < 1:
                raise ValueError("a seed count must be at least 1")
            return list(range(v))
        return v

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("give at least one seed")
        if len(set(v)) != len(v):
            raise ValueError(f"seeds repeat: {v}")
        return v

    @model_validator(mode="after")
    def _distinct_cells(self) -> BatchSpec:
        who: dict[str, int] = {}
        for i, a in enumerate(self.agents):
            if a.who in who:
                raise ValueError(
                    f"agents {who[a.who]} and {i} both appear as {a.who!r}; give them distinct "
                    "`label`s"
                )
            who[a.who] = i
        tasks = [(t.id, t.variant) for t in self.tasks]
        if len(set(tasks)) != len(tasks):
            raise ValueError("a task and variant is listed twice")
        return self

    def run_resources(self, task: TaskEntry) -> RunResources:
        """The overrides for `task`'s runs: its own, else the batch-wide ones."""
        return RunResources(
            cpus=task.resources.cpus or self.resources.cpus,
            disk_mb=task.resources.disk_mb or self.resources.disk_mb,
        )

    def matrix_size(self) -> int:
        return len(self.tasks) * len(self.agents) * len(self.seeds)


OPERATIONAL = (
    "max_cost_usd",
    "max_wall_seconds",
    "retries",
    "workers",
    "cpus",
    "memory_mb",
    "gpus",
    "backend",
    "ray_address",
    "ray_ship_records",
)
"""Fields that say how a batch is run, not what it runs: free to change on --resume."""


def _problems(source: str, problems: list[tuple[str, str]]) -> BatchSpecError:
    """One error for every problem found: the first names the field, the others follow."""
    field, first = problems[0]
    rest = [f"{loc}: {msg}" for loc, msg in problems[1:]]
    return BatchSpecError(source, field, "; ".join([first, *rest]))


def _error(source: str, e: ValidationError) -> BatchSpecError:
    return _problems(
        source,
        [
            (
                ".".join(str(p) for p in err["loc"]) or "(top level)",
                err["msg"].removeprefix("Value error, "),
            )
            for err in e.errors()
        ],
    )


def parse_spec(data: Any, source: str = FLAGS, base: Path | None = None) -> BatchSpec:
    """A BatchSpec from a parsed YAML mapping; relative paths are taken from `base`.

    Raises:
        BatchSpecError: a field is missing, unknown or malformed (named, with `source`).
    """
    if not isinstance(data, dict):
        raise BatchSpecError(source, "(top level)", "expected a mapping of spec fields")
    try:
        spec = BatchSpec.model_validate(data)
    except ValidationError as e:
        raise _error(source, e) from None
    if base is not None:
        spec = _rebase(spec, base)
    return spec


def _rebase(spec: BatchSpec, base: Path) -> BatchSpec:
    """Paths in a spec file are relative to the file, wherever rgym is started from."""

    def at(p: Path) -> Path:
        return p if p.is_absolute() else (base / p).resolve()

    for a in spec.agents:
        if a.actions is not None:
            a.actions = at(a.actions)
    spec.tasks_dirs = [at(p) for p in spec.tasks_dirs]
    for t in spec.tasks:
        if t.id.startswith(("./", "../")):
            t.id = str(at(Path(t.id)))
    return spec


def load_spec(path: Path) -> BatchSpec:
    """Read a batch spec YAML file.

    Raises:
        BatchSpecError: the file is missing, not YAML, or not a valid spec.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BatchSpecError(str(path), "(file)", f"cannot be read ({e.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise BatchSpecError(str(path), "(file)", f"is not valid YAML: {e}") from None
    return parse_spec(data, str(path), base=path.resolve().parent)


def with_overrides(spec: BatchSpec, source: str, **overrides: Any) -> BatchSpec:
    """`spec` with the given fields replaced (None leaves a field as it is), re-validated."""
    data = spec.model_dump(mode="python")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return parse_spec(data, source)


def check_matrix(spec: BatchSpec, source: str = FLAGS) -> dict[tuple[str, str], Any]:
    """Every task and variant exists, and each agent can be built; before anything starts.

    Returns the TaskSpec of each (task, variant) entry.

    Raises:
        BatchSpecError: naming every unknown task or variant, or the agent that cannot run.
    """
    from rgym.tasks.registry import get_task

    found: dict[tuple[str, str], Any] = {}
    problems: list[tuple[str, str]] = []
    for i, entry in enumerate(spec.tasks):
        try:
            task = get_task(entry.id, spec.tasks_dirs)
        except RgymError as e:
            problems.append((f"tasks.{i}", str(e)))
            continue
        if entry.variant not in task.variants:
            problems.append(
                (
                    f"tasks.{i}.variant",
                    f"task {task.id!r} has no variant {entry.variant!r}; it has "
                    f"{', '.join(task.variants)}",
                )
            )
            continue
        found[(entry.id, entry.variant)] = task
    if problems:
        raise _problems(source, problems)
    return found


def check_agents(spec: BatchSpec, tasks: dict[tuple[str, str], Any], source: str = FLAGS):
    """Build each agent once, as a run would, so a missing API key, model or actions file is
    one error now rather than a failed run per cell."""
    from rgym.runs.runner import RunConfig, make_agent

    for i, a in enumerate(spec.agents):
        for task in tasks.values():
            if a.agent == "replay" and a.actions is None and not task.demo:
                raise BatchSpecError(
                    source,
                    f"agents.{i}",
                    f"task {task.id!r} ships no demonstration to replay; give `actions` or a "
                    "`model`",
                )
        task_id, variant = next(iter(tasks))
        config = RunConfig(
            task=task_id,
            variant=variant,
            agent=str(a.agent),
            model=a.model,
            actions=a.actions,
            agent_options=a.options,
            tasks_dirs=spec.tasks_dirs,
        )
        try:
            make_agent(config, tasks[(task_id, variant)])
        except RgymError as e:
            raise BatchSpecError(source, f"agents.{i}", str(e)) from None


def slot_cpus(cpus: float) -> int:
    """Whole cores a run is pinned to for a CPU quota of `cpus`."""
    return max(1, math.ceil(cpus - 1e-9))
