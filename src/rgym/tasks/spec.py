"""The schema of task.yaml, and the importer for MLGym task YAMLs.

A task is a folder; its task.yaml is parsed into a TaskSpec. A malformed file fails with a
TaskSpecError that names the file, the field and what was expected.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rgym.errors import TaskSpecError

FAMILIES = ("tabular", "vision", "language", "rl", "games", "algorithms", "other")


class Direction(StrEnum):
    max = "max"
    min = "min"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Resources(_Strict):
    """What one episode's sandbox may use; enforced where the host allows it."""

    cpus: float = 2.0
    """CPU cores (cgroup quota)."""
    memory_mb: int = 4096
    """Memory limit for everything in the sandbox."""
    pids: int = 512
    """Maximum number of processes (stops fork bombs)."""
    gpus: int = 0
    """GPUs needed; 0 for every default variant."""


class Limits(_Strict):
    """Default budgets of an episode; a run's config may override them."""

    max_steps: int = 50
    max_wall_seconds: float = 3600.0
    command_timeout: float = 600.0
    """Seconds one command may run before its process group is killed."""
    max_validations: int = 10


class Variant(_Strict):
    """One size of a task: `default` runs on CPU offline; `full` uses the original data."""

    description: str = ""
    """Appended to the task description for this variant."""
    data: dict[str, Any] = Field(default_factory=dict)
    """Options passed to the data recipe's prepare()."""
    resources: Resources = Field(default_factory=Resources)
    limits: Limits = Field(default_factory=Limits)
    requires: list[Literal["gpu", "network"]] = Field(default_factory=list)


class Artifact(_Strict):
    """What the agent must leave in its workspace; validated before grading."""

    path: str
    """Relative to the workspace (a file, or a folder for checkpoints)."""
    kind: Literal["csv", "python", "directory", "file"]
    columns: list[str] = Field(default_factory=list)
    """csv: the columns the file must have."""
    function: str | None = None
    """python: the function the grader calls."""

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str) -> str:
        if v.startswith("/") or ".." in Path(v).parts:
            raise ValueError("must be a path inside the workspace (relative, no '..')")
        return v

    @model_validator(mode="after")
    def _function_for_python(self) -> Artifact:
        if self.kind == "python" and not self.function:
            raise ValueError("an artifact of kind 'python' needs 'function'")
        return self


class Metric(_Strict):
    name: str
    direction: Direction
    secondary: list[str] = Field(default_factory=list)


class Solution(_Strict):
    """A command that produces the artefact in a workspace (baseline or reference)."""

    command: str
    """Run in the workspace, e.g. `python baseline.py`."""
    files: str | None = None
    """A folder of the task whose files are copied over the workspace first (reference/)."""
    scores: dict[str, float] = Field(default_factory=dict)
    """Test score per variant."""


class GraderSpec(_Strict):
    script: str = "grader/grade.py"
    """Relative to the task folder; its folder is mounted read-only for the grader only."""
    timeout: float = 600.0
    kind: Literal["rgym", "mlgym"] = "rgym"
    """rgym: grade.py --split S --artifact DIR; mlgym: an MLGym evaluate.py run in a copy of
the workspace."""


class Graders(_Strict):
    dev: GraderSpec = Field(default_factory=GraderSpec)
    test: GraderSpec = Field(default_factory=GraderSpec)


class DataInfo(_Strict):
    source: str = ""
    licence: str = ""
    citation: str = ""
    recipe: str | None = "prepare.py"
    """A module in the task folder with `prepare(public, private, *, seed, variant, **options)`."""
    private_packages: list[str] = Field(default_factory=list)
    """Python packages that hold raw data (labels included): hidden from the agent's sandbox."""


class MLGymExtras(BaseModel):
    """What an imported MLGym task needs beyond the spec: its files, by their MLGym roles."""

    starter_code: list[str]
    evaluation_paths: list[str]
    secret_files: list[str]
    evaluation_read_only: bool


class TaskSpec(_Strict):
    id: str
    name: str
    version: int = 0
    family: str
    description: str
    seed: int = 0
    """Fixes the train/dev/test split and the graders' simulation seeds."""
    variants: dict[str, Variant]
    starter: str | None = "starter"
    """A folder of the task copied into the workspace."""
    artifact: Artifact
    metric: Metric
    baseline: Solution | None = None
    reference: Solution | None = None
    graders: Graders = Field(default_factory=Graders)
    data: DataInfo = Field(default_factory=DataInfo)
    demo: str | None = None
    """A YAML list of actions: the demonstration `rgym run` replays without a model."""

    root: Path | None = Field(default=None, exclude=True)
    """The task folder (set by the loader)."""
    mlgym: MLGymExtras | None = Field(default=None, exclude=True)
    """Set for tasks imported from an MLGym YAML."""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", v):
            raise ValueError("lower-case letters, digits, '-' and '_' (e.g. 'house-price')")
        return v

    @field_validator("family")
    @classmethod
    def _family(cls, v: str) -> str:
        if v not in FAMILIES:
            raise ValueError(f"one of {', '.join(FAMILIES)}")
        return v

    @field_validator("variants")
    @classmethod
    def _default_variant(cls, v: dict[str, Variant]) -> dict[str, Variant]:
        if "default" not in v:
            raise ValueError("must define a 'default' variant (CPU, offline)")
        return v

    @property
    def gym_id(self) -> str:
        return f"rgym/{self.id}-v{self.version}"

    def variant(self, name: str) -> Variant:
        try:
            return self.variants[name]
        except KeyError:
            raise TaskSpecError(
                str(self.root / "task.yaml") if self.root else self.id,
                "variants",
                f"no variant {name!r}; this task has {', '.join(self.variants)}",
            ) from None

    def baseline_score(self, variant: str = "default") -> float | None:
        return self.baseline.scores.get(variant) if self.baseline else None

    def reference_score(self, variant: str = "default") -> float | None:
        return self.reference.scores.get(variant) if self.reference else None

    def path(self, rel: str) -> Path:
        assert self.root is not None, "TaskSpec.root is set by load_task"
        return self.root / rel


def _spec_error(file: Path, err: ValidationError) -> TaskSpecError:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "missing":
        msg = "is required but missing"
    elif first["type"] == "extra_forbidden":
        msg = "is not a known field (check the spelling; see DESIGN.md 'Task')"
    return TaskSpecError(str(file), field, msg)


def _read_yaml(file: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(file.read_text())
    except FileNotFoundError:
        raise TaskSpecError(str(file), "(file)", "no such file") from None
    except yaml.YAMLError as e:
        raise TaskSpecError(str(file), "(syntax)", f"is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise TaskSpecError(str(file), "(top level)", "expected a mapping of fields")
    return raw


def load_task(path: str | Path) -> TaskSpec:
    """Load a task folder (or its task.yaml); MLGym task YAMLs are recognised and imported."""
    path = Path(path)
    file = path / "task.yaml" if path.is_dir() else path
    raw = _read_yaml(file)
    if is_mlgym_task(raw):
        return import_mlgym_task(file, raw)
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as e:
        raise _spec_error(file, e) from None
    spec.root = file.parent.resolve()
    paths = {
        "starter": spec.starter,
        "demo": spec.demo,
        "data.recipe": spec.data.recipe,
        "graders.dev.script": spec.graders.dev.script,
        "graders.test.script": spec.graders.test.script,
        "baseline.files": spec.baseline.files if spec.baseline else None,
        "reference.files": spec.reference.files if spec.reference else None,
    }
    for field, rel in paths.items():
        if rel and not (spec.root / rel).exists():
            raise TaskSpecError(
                str(file), field, f"names {rel!r}, which does not exist in {spec.root}"
            )
    return spec


# --- MLGym import ------------------------------------------------------------------------------

_MLGYM_KEYS = {
    "task_entrypoint",
    "evaluation_paths",
    "baseline_paths",
    "dataset_configs",
    "starter_code",
    "training_timeout",
    "use_generic_conda",
}
_LOWER_IS_BETTER = {"rmse", "mse", "mae", "loss", "val_loss", "time", "perplexity"}


def is_mlgym_task(raw: dict[str, Any]) -> bool:
    return bool(_MLGYM_KEYS & raw.keys()) and "variants" not in raw


def import_mlgym_task(file: Path, raw: dict[str, Any]) -> TaskSpec:
    """Map an MLGym task YAML onto a TaskSpec.

    MLGym runs its evaluator in the agent's shell with agent-editable files; here the evaluation
    files (`evaluation_paths`) and `secret_files` are copied from the task folder into a fresh
    grader sandbox only, never into the workspace. Paths in the YAML are taken relative to the
    YAML's folder. The priority metric is the first key of `baseline_scores`; its direction is
    guessed from its name (loss/time/rmse are minimised) since MLGym keeps directions elsewhere.
    """
    root = file.parent.resolve()
    for key in ("id", "description"):
        if not raw.get(key):
            raise TaskSpecError(str(file), key, "is required in an MLGym task YAML")
    evals = raw.get("evaluation_paths") or []
    if not evals:
        raise TaskSpecError(str(file), "evaluation_paths", "needs at least one evaluate script")
    scores = (raw.get("baseline_scores") or [{}])[0] or {}
    metric = next(iter(scores), "score")
    direction = Direction.min if metric.lower() in _LOWER_IS_BETTER else Direction.max
    timeout = float(raw.get("training_timeout") or 1800)
    task_id = re.sub(r"(?<!^)(?=[A-Z])", "-", str(raw["id"])).lower()
    task_id = re.sub(r"[^a-z0-9_-]", "-", task_id)
    desc = str(raw["description"])
    spec = TaskSpec(
        id=task_id,
        name=str(raw.get("name") or raw["id"]),
        family="other",
        description=desc,
        variants={"default": Variant(limits=Limits(command_timeout=timeout))},
        starter=None,
        artifact=Artifact(
            path=Path(raw.get("sample_submission") or "submission.csv").name, kind="file"
        ),
        metric=Metric(name=metric, direction=direction),
        baseline=Solution(
            command="python " + Path((raw.get("baseline_paths") or ["baseline.py"])[0]).name,
            scores={"default": float(scores[metric])} if metric in scores else {},
        ),
        graders=Graders(
            dev=GraderSpec(script=evals[0], kind="mlgym", timeout=timeout),
            test=GraderSpec(script=evals[0], kind="mlgym", timeout=timeout),
        ),
        data=DataInfo(recipe=None),
    )
    spec.root = root
    spec.mlgym = MLGymExtras(
        starter_code=list(raw.get("starter_code") or []),
        evaluation_paths=list(evals),
        secret_files=list(raw.get("secret_files") or []),
        evaluation_read_only=bool(raw.get("evaluation_read_only", True)),
    )
    return spec
