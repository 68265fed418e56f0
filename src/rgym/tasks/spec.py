"""The schema of task.yaml, and the importer for MLGym task YAMLs.

A task is a folder; its task.yaml is parsed into a TaskSpec. A malformed file fails with a
TaskSpecError that names the file, the field and what was expected.
"""

from __future__ import annotations

import re
import shutil
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rgym.errors import TaskSpecError

FAMILIES = ("tabular", "vision", "language", "rl", "games", "algorithms", "other")
MLGYM_ID = r"mlgym/[A-Za-z0-9][A-Za-z0-9_.-]*"
"""The id of a task imported from MLGym: its own id, in the `mlgym/` namespace."""


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
    disk_mb: int = 2048
    """Disk for the workspace, /tmp and /dev/shm together; writes past it fail with ENOSPC."""
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
    entry: str | None = None
    """directory: a Python file inside the folder that rgym's model server imports in the
artefact's own sandbox; the grader calls its functions with numpy arrays (a model artefact)."""
    instances: int = Field(default=1, ge=1, le=4)
    """A model artefact: how many separate sandboxes run it, each a fresh process the grader
    reaches as `rgym_grade.remote_model(instance=i)`. A check that compares a model's answers
    on related inputs (a language model's causality) sends them to different instances, so that
    a model cannot remember one input and replay its answer on the other."""
    max_mb: float | None = Field(default=None, gt=0)
    """The largest artefact graded, in MiB (a folder: all its files together); checked on the
open file before anything is read or copied, so a sparse or growing file cannot fill the host's
memory or disk. Default by kind: csv 64, file 64, python 8, directory 2048."""

    @property
    def max_bytes(self) -> int:
        """`max_mb` (or the kind's default) in bytes."""
        mb = self.max_mb or {"csv": 64, "file": 64, "python": 8, "directory": 2048}[self.kind]
        return int(mb * (1 << 20))

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
        if self.entry is not None:
            if self.kind != "directory":
                raise ValueError("'entry' is for artifacts of kind 'directory' (a model folder)")
            if self.entry.startswith("/") or ".." in Path(self.entry).parts:
                raise ValueError("'entry' must be a path inside the artefact folder")
        return self


class Metric(_Strict):
    name: str
    direction: Direction
    secondary: list[str] = Field(default_factory=list)


class Solution(_Strict):
    """A command that produces the artefact in a workspace (baseline or reference)."""

    command: str
    """Run in the workspace, e.g. `python baseline.py`."""
    files: str | list[str] | None = None
    """Folders or files of the task copied over the workspace first (reference/), in order;
    see `TaskSpec.starter` for how entries are laid out."""
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
    private_paths: list[str] = Field(default_factory=list)
    """Host files or folders that hold raw data (a system package's labels, a lexicon): hidden
in every sandbox that runs the agent's code (its episode and its artefact's server)."""

    @field_validator("private_paths")
    @classmethod
    def _absolute(cls, v: list[str]) -> list[str]:
        for p in v:
            if not p.startswith("/") or ".." in Path(p).parts:
                raise ValueError(f"{p!r}: must be an absolute host path without '..'")
        return v


class Stack(_Strict):
    """The libraries a task's code needs beyond rgym's own (a deep-learning stack)."""

    modules: list[str] = Field(min_length=1)
    """Import names, checked before an episode starts (`torch`, `jax`, …)."""
    extra: str
    """The rgym extra that installs them: `pip install 'rgym[<extra>]'`."""


class MLGymExtras(BaseModel):
    """What an imported MLGym task needs beyond the spec: its files, by their MLGym roles.

    Paths are MLGym's: `starter_code`, `secret_files` and `requirements` relative to the
    repository root (`repo_root`, which is also the spec's `root`), `evaluation_paths` and the
    artefact paths relative to the agent's workspace (see rgym.tasks.mlgym_data)."""

    mlgym_id: str = ""
    """The task's own id in MLGym (rgym's id is `mlgym/<mlgym_id>`)."""
    file: Path | None = None
    """The task YAML."""
    repo_root: Path | None = None
    entrypoint: str = "CSVSubmissionTasks"
    starter_code: list[str]
    evaluation_paths: list[str]
    secret_files: list[str]
    evaluation_read_only: bool
    datasets: list[dict[str, Any]] = Field(default_factory=list)
    """{name, description, data_path, is_local, config} per dataset config."""
    artifacts: list[str] = Field(default_factory=list)
    """Workspace paths the agent must leave (the first is `TaskSpec.artifact`)."""
    optional_artifacts: list[str] = Field(default_factory=list)
    """Workspace paths taken from the agent when present (an RL task's config YAML)."""
    modules: dict[str, list[str]] = Field(default_factory=dict)
    """Artefact modules -> the names the evaluator imports from them; they run in a sandbox of
    their own and the evaluator calls them through a proxy module."""
    in_process: list[str] = Field(default_factory=list)
    """Agent modules the evaluator must import itself (model code of RL and LM tasks)."""
    packages: list[str] = Field(default_factory=list)
    """Import names the task's code needs beyond the standard library."""
    requirements: str | None = None
    """A requirements file (tasks with `use_generic_conda: false`)."""
    gpus: int = 0


class TaskSpec(_Strict):
    id: str
    name: str
    version: int = 0
    family: str
    description: str
    seed: int = 0
    """Fixes the train/dev/test split and the graders' simulation seeds."""
    variants: dict[str, Variant]
    starter: str | list[str] | None = "starter"
    """What the workspace starts with: a folder of the task, or a list of folders and files laid
    out in order (a folder's contents merge into the workspace, a file lands under its own name,
    a later entry overwrites an earlier one). Entries may reach a sibling folder of the catalogue
    (`../_rl/starter`) so that tasks sharing code keep one copy of it."""
    artifact: Artifact
    stack: Stack | None = None
    """A deep-learning stack the task needs; missing, the episode is refused before it starts."""
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
    def _id(cls, v: str, info: ValidationInfo) -> str:
        if (info.context or {}).get("mlgym") and re.fullmatch(MLGYM_ID, v):
            return v  # an imported task keeps MLGym's id, in its own namespace
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
        if "/" in self.id:  # namespaced (mlgym/<id>): registered under its own name
            return self.id
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

    def entry_paths(self, entries: str | list[str] | None) -> list[Path]:
        """A `starter` or `files` value as paths, in the order they are laid out."""
        if not entries:
            return []
        return [self.path(e) for e in ([entries] if isinstance(entries, str) else entries)]

    def lay_out(self, entries: str | list[str] | None, dest: Path) -> None:
        """Copy starter or solution entries into a workspace (folders merged, files by name)."""
        for src in self.entry_paths(entries):
            if src.is_dir():
                shutil.copytree(
                    src, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(src, dest / src.name)


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
    paths: dict[str, str | None] = {
        "demo": spec.demo,
        "data.recipe": spec.data.recipe,
        "graders.dev.script": spec.graders.dev.script,
        "graders.test.script": spec.graders.test.script,
    }
    for field, value in [
        ("starter", spec.starter),
        ("baseline.files", spec.baseline.files if spec.baseline else None),
        ("reference.files", spec.reference.files if spec.reference else None),
    ]:
        for i, rel in enumerate([value] if isinstance(value, str) else value or []):
            paths[field if isinstance(value, str) else f"{field}[{i}]"] = rel
    for field, rel in paths.items():
        if not rel:
            continue
        target = (spec.root / rel).resolve()
        if not target.is_relative_to(spec.root.parent):
            raise TaskSpecError(
                str(file), field, f"names {rel!r}, outside the task's catalogue {spec.root.parent}"
            )
        if not target.exists():
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
_FAMILY = {
    "ModelSubmissionTasks": "rl",
    "LMSubmissionTasks": "language",
    "CSVSubmissionTasks": "other",
    "PythonSubmissionTasks": "other",
}


def is_mlgym_task(raw: dict[str, Any]) -> bool:
    return bool(_MLGYM_KEYS & raw.keys()) and "variants" not in raw


def import_mlgym_task(file: Path, raw: dict[str, Any]) -> TaskSpec:
    """Map an MLGym task YAML, in place in its checkout, onto a TaskSpec.

    The id stays MLGym's, as `mlgym/<id>`. Paths are resolved as MLGym resolves them (from the
    repository root found above the YAML; see rgym.tasks.mlgym_data); every file the YAML names
    must exist, else a TaskSpecError names the file, the field and the path. The prompt is the
    description with `{dataset_docs}` filled as MLGym fills it. The artefact follows the entry
    point. The priority metric is the first key of `baseline_scores`, spelt as the evaluator
    prints it; its direction is guessed from its name (loss/time/rmse are minimised) since MLGym
    keeps directions elsewhere. Graders run the task's evaluate script on a workspace rebuilt
    from the task folder plus the artefact (rgym.grading.mlgym).
    """
    from rgym.tasks import mlgym_data as md

    where = str(file)
    for key in ("id", "description"):
        if not raw.get(key):
            raise TaskSpecError(where, key, "is required in an MLGym task YAML")
    mlgym_id = str(raw["id"])
    if not re.fullmatch(MLGYM_ID, f"mlgym/{mlgym_id}"):
        raise TaskSpecError(where, "id", f"{mlgym_id!r}: letters, digits, '_', '.' and '-' only")
    entry = str(raw.get("task_entrypoint") or "CSVSubmissionTasks")
    if entry not in md.ENTRYPOINTS:
        raise TaskSpecError(
            where,
            "task_entrypoint",
            f"{entry!r} is not an MLGym task class; one of {', '.join(md.ENTRYPOINTS)}",
        )
    evals = md.as_list(raw, "evaluation_paths", file)
    if not evals:
        raise TaskSpecError(where, "evaluation_paths", "needs at least one evaluate script")
    root = md.find_repo_root(file, raw)
    starters = md.as_list(raw, "starter_code", file)
    layout = md.workspace_layout(root, starters)
    for e in evals:
        if e not in layout:
            raise TaskSpecError(
                where,
                "evaluation_paths",
                f"{e!r} is not a file the starter code puts in the workspace (MLGym copies each "
                f"starter_code entry there under its own name: {', '.join(layout) or 'none'})",
            )
    secrets = md.as_list(raw, "secret_files", file)
    for rel in secrets:
        if not (root / rel).is_file():
            raise TaskSpecError(where, "secret_files", f"names {rel!r}; {root / rel} is no file")
    sample = raw.get("sample_submission")
    if sample and not (root / str(sample)).is_file():
        raise TaskSpecError(where, "sample_submission", f"{root / str(sample)} does not exist")
    requirements = raw.get("requirements_path")
    if not raw.get("use_generic_conda", True):
        if not requirements or not (root / str(requirements)).is_file():
            raise TaskSpecError(
                where,
                "requirements_path",
                "must name an existing requirements file when use_generic_conda is false"
                + (f" ({root / str(requirements)} does not exist)" if requirements else ""),
            )
    else:
        requirements = None
    datasets = md.load_datasets(file, root, md.as_list(raw, "dataset_configs", file))
    description = md.fill_description(file, str(raw["description"]), md.dataset_docs(datasets))
    art = md.detect_artifacts(file, entry, description, layout, evals)

    scores = (raw.get("baseline_scores") or [{}])[0] or {}
    if not isinstance(scores, dict):
        raise TaskSpecError(where, "baseline_scores", "expected a list of {metric: score}")
    evaluator = layout[evals[0]]
    first = next(iter(scores), "score")
    metric = md.metric_spelling(str(first), evaluator)
    direction = Direction.min if metric.lower() in _LOWER_IS_BETTER else Direction.max
    secondary = [md.metric_spelling(str(k), evaluator) for k in list(scores)[1:]]
    timeout = float(raw.get("training_timeout") or 3600)

    baseline_paths = md.as_list(raw, "baseline_paths", file)
    if baseline_paths:
        command = f"python {baseline_paths[0]}"
    else:
        command = "echo 'this MLGym task ships no baseline script (baseline_paths)' >&2; exit 1"
    code = [evaluator, *(layout[p] for p in baseline_paths[:1] if p in layout)]
    code += [layout[m] for m in [*art["modules"], *art["in_process"]] if m in layout]
    modules = [m for path in code for m, _ in md.imports_of(path)]
    sample_file = root / str(sample) if sample else layout.get("sample_submission.csv")
    columns = md.csv_columns(sample_file) if art["kind"] == "csv" else []
    gpus = 1 if entry == "LMSubmissionTasks" else 0
    family = _FAMILY[entry]
    if entry == "PythonSubmissionTasks":
        family = "games" if art["paths"][0] == "strategy.py" else "algorithms"

    data_options = {
        "repo_root": str(root),
        "datasets": datasets,
        "secret_files": secrets,
        "fingerprint": md.data_fingerprint(root, datasets),
    }
    try:
        spec = TaskSpec.model_validate(
            {
                "id": f"mlgym/{mlgym_id}",
                "name": str(raw.get("name") or mlgym_id),
                "family": family,
                "description": description,
                "variants": {
                    "default": Variant(
                        data=data_options if datasets else {},
                        limits=Limits(command_timeout=timeout),
                        resources=Resources(gpus=gpus),
                        requires=["gpu"] if gpus else [],
                    )
                },
                "starter": None,
                "artifact": Artifact(
                    path=art["paths"][0],
                    kind=art["kind"],
                    columns=columns,
                    function=art["function"],
                ),
                "metric": Metric(name=metric, direction=direction, secondary=secondary),
                "baseline": Solution(
                    command=command,
                    scores={"default": float(scores[first])}
                    if isinstance(scores.get(first), int | float)
                    else {},
                ),
                "graders": Graders(
                    dev=GraderSpec(script=evals[0], kind="mlgym", timeout=timeout),
                    test=GraderSpec(script=evals[0], kind="mlgym", timeout=timeout),
                ),
                "data": DataInfo(
                    recipe=str(md.RECIPE) if datasets else None,
                    source=f"MLGym task {mlgym_id} ({file})",
                ),
            },
            context={"mlgym": True},
        )
    except ValidationError as e:
        raise _spec_error(file, e) from None
    spec.root = root
    spec.mlgym = MLGymExtras(
        mlgym_id=mlgym_id,
        file=file.resolve(),
        repo_root=root,
        entrypoint=entry,
        starter_code=starters,
        evaluation_paths=evals,
        secret_files=secrets,
        evaluation_read_only=bool(raw.get("evaluation_read_only", False)),
        datasets=datasets,
        artifacts=art["paths"],
        optional_artifacts=art["optional"],
        modules=art["modules"],
        in_process=art["in_process"],
        packages=md.third_party(modules, layout),
        requirements=str(requirements) if requirements else None,
        gpus=gpus,
    )
    return spec
