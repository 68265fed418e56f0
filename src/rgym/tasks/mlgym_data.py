"""MLGym task YAMLs, read in place: layout, datasets, the artefact, and what a task needs to run.

MLGym names every path in a task YAML relative to its repository root (`starter_code`,
`secret_files`, `sample_submission`, `requirements_path`, a dataset's `data_path`) or to the
root's `configs/` folder (`dataset_configs`); `evaluation_paths` and `baseline_paths` are relative
to the agent's workspace, where each `starter_code` entry lands under its own base name. The
root is found by walking up from the YAML to the first folder that holds those paths, so a
checkout works in place whether rgym is pointed at its root or at `configs/tasks`.

What the agent must leave follows the task's entry point, as in MLGym:

- `CSVSubmissionTasks`: `submission.csv` (columns from the sample submission, when there is one);
- `PythonSubmissionTasks`: the starter module(s) the evaluator imports and the description names
  (`strategy.py`, `heuristic.py`); the other imported modules (the opponent `target.py`, the
  solver) are restored from the task folder before scoring;
- `ModelSubmissionTasks`: the `checkpoints/` folder and its config YAML;
- `LMSubmissionTasks`: the files the description names and the evaluator opens (`model.pt`,
  `model_config.pt`, `bert_mnli_model/`).

This module is host-side only; it never runs task code.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import shutil
import string
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import yaml

from rgym.errors import DataUnavailable, RgymError, TaskSpecError

ENTRYPOINTS = (
    "CSVSubmissionTasks",
    "PythonSubmissionTasks",
    "ModelSubmissionTasks",
    "LMSubmissionTasks",
)
RECIPE = Path(__file__).parent / "mlgym_recipe.py"
"""The data recipe every imported task uses: local datasets and Hugging Face datasets go through
rgym's data loader (`prepare_data`: cached, checksummed, prepared before the episode)."""

PIP_NAMES = {
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "cv2": "opencv-python",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "google": "protobuf",
}
"""Import names whose pip package has another name."""


class TaskUnavailable(RgymError):
    """An imported task cannot run on this machine (a package, a GPU or a dataset is missing)."""


# --- layout ------------------------------------------------------------------------------------


def as_list(raw: dict[str, Any], key: str, file: Path) -> list[str]:
    v = raw.get(key)
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise TaskSpecError(str(file), key, "expected a list of paths")
    return list(v)


def find_repo_root(file: Path, raw: dict[str, Any]) -> Path:
    """The MLGym repository root of a task YAML: the nearest folder, from the YAML's own folder
    upwards, under which every `starter_code` path and `configs/<dataset_config>` exists."""
    starters = as_list(raw, "starter_code", file)
    configs = as_list(raw, "dataset_configs", file)
    start = file.resolve().parent
    candidates = [start, *start.parents]

    def holds(root: Path) -> bool:
        return all((root / s).exists() for s in starters) and all(
            (root / "configs" / c).is_file() for c in configs
        )

    if starters or configs:
        for cand in candidates:
            if holds(cand):
                return cand
    # nothing to go by, or nothing found: the folder above configs/ when the YAML sits in one
    likely = next((c.parent for c in candidates if c.name == "configs"), start)
    if not starters and not configs:
        return likely
    for s in starters:
        if not (likely / s).exists():
            raise TaskSpecError(
                str(file),
                "starter_code",
                f"names {s!r}, which does not exist under {likely} (MLGym task paths are relative "
                "to its repository root; rgym looked in every folder from the YAML's upwards)",
            )
    for c in configs:
        if not (likely / "configs" / c).is_file():
            raise TaskSpecError(
                str(file),
                "dataset_configs",
                f"names {c!r}, but {likely / 'configs' / c} does not exist (dataset configs are "
                "relative to the repository's configs/ folder)",
            )
    return likely  # pragma: no cover - holds(likely) would have been true


def workspace_layout(root: Path, starters: list[str]) -> dict[str, Path]:
    """Workspace-relative path -> host path, for every file the starter code puts there."""
    out: dict[str, Path] = {}
    for s in starters:
        src = root / s
        name = src.name
        if src.is_dir():
            for p in sorted(src.rglob("*")):
                if p.is_file() and "__pycache__" not in p.parts:
                    out[f"{name}/{p.relative_to(src).as_posix()}"] = p
        else:
            out[name] = src
    return out


# --- datasets and the prompt -------------------------------------------------------------------


def load_datasets(file: Path, root: Path, configs: list[str]) -> list[dict[str, Any]]:
    """The dataset configs of a task, each as {name, description, data_path, is_local, config}."""
    out = []
    for c in configs:
        path = root / "configs" / c
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise TaskSpecError(str(path), "(syntax)", f"is not valid YAML: {e}") from None
        if not isinstance(raw, dict):
            raise TaskSpecError(str(path), "(top level)", "expected a mapping of fields")
        for key in ("name", "data_path"):
            if not raw.get(key):
                raise TaskSpecError(str(path), key, "is required in an MLGym dataset config")
        out.append(
            {
                "name": str(raw["name"]),
                "description": str(raw.get("description") or ""),
                "data_path": str(raw["data_path"]),
                "is_local": bool(raw.get("is_local", False)),
                "config": str(path),
            }
        )
    return out


def dataset_docs(datasets: list[dict[str, Any]]) -> str:
    """What MLGym puts in place of `{dataset_docs}`: each dataset's upper-cased name, a colon,
    its description, and a blank line."""
    return "".join(f"{d['name'].upper()}:\n{d['description']}\n\n" for d in datasets)


def fill_description(file: Path, text: str, docs: str) -> str:
    """`text.format(dataset_docs=docs)`, as MLGym fills a task description, without evaluating
    any other replacement field (a description is not code)."""
    out: list[str] = []
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as e:
        raise TaskSpecError(
            str(file),
            "description",
            f"is not a valid template ({e}); write literal braces as {{{{ and }}}}",
        ) from None
    for literal, field, spec, conv in parts:
        out.append(literal)
        if field is None:
            continue
        if field != "dataset_docs" or spec or conv:
            raise TaskSpecError(
                str(file),
                "description",
                f"has the placeholder {{{field}}}; MLGym fills only {{dataset_docs}} (write "
                "literal braces as {{ and }})",
            )
        out.append(docs)
    return "".join(out)


def data_fingerprint(root: Path, datasets: list[dict[str, Any]]) -> str:
    """A cheap hash of the local datasets' files (names, sizes, times), so rgym's data cache is
    never served stale when a checkout's data changes."""
    import hashlib

    h = hashlib.sha256()
    for d in datasets:
        h.update(f"{d['data_path']}\0{d['is_local']}\n".encode())
        src = root / d["data_path"]
        if d["is_local"] and src.is_dir():
            for p in sorted(src.rglob("*")):
                if p.is_file():
                    st = p.stat()
                    h.update(f"{p.relative_to(src)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


# --- what the evaluator imports and opens ------------------------------------------------------


def _tree(path: Path) -> ast.Module | None:
    try:
        with warnings.catch_warnings():  # a task's own style (invalid escapes) is not our news
            warnings.simplefilter("ignore")
            return ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError, RecursionError):
        return None


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every absolute import in a Python file, in order."""
    tree = _tree(path)
    if tree is None:
        return []
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.module, [a.name for a in node.names]))
    return out


def string_literals(path: Path) -> set[str]:
    tree = _tree(path)
    if tree is None:
        return set()
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def module_file(module: str, layout: dict[str, Path]) -> str | None:
    """The workspace file a module name resolves to (`src.networks` -> `src/networks.py`)."""
    rel = module.replace(".", "/")
    for cand in (f"{rel}.py", f"{rel}/__init__.py"):
        if cand in layout:
            return cand
    return None


def third_party(modules: list[str], layout: dict[str, Path]) -> list[str]:
    """Top-level import names that are neither the standard library nor workspace modules."""
    # a starter folder's own modules import each other by bare name (`python src/train.py`)
    local = {p.split("/")[0].removesuffix(".py") for p in layout}
    local |= {Path(p).stem for p in layout if p.endswith(".py")}
    out: list[str] = []
    for m in modules:
        top = m.split(".")[0]
        if top in sys.stdlib_module_names or top in local or top in out:
            continue
        if top in ("__future__", "__main__"):
            continue
        out.append(top)
    return out


def detect_artifacts(
    file: Path, entrypoint: str, description: str, layout: dict[str, Path], evals: list[str]
) -> dict[str, Any]:
    """What the agent must leave, by entry point (see the module docstring).

    Returns {"paths": required workspace paths (the first is the primary artefact), "optional":
    paths taken from the agent when present, "kind": the primary's kind, "modules": {artefact
    module file: names the evaluator imports from it} (run in their own sandbox), "in_process":
    agent module files the evaluator must import itself, "function": the primary function}.
    """
    evaluator = layout.get(evals[0]) if evals else None
    imported = imports_of(evaluator) if evaluator else []
    ws_modules: dict[str, list[str]] = {}
    for mod, names in imported:
        f = module_file(mod, layout)
        if f and f not in evals:
            ws_modules.setdefault(f, [])
            ws_modules[f] += [n for n in names if n not in ws_modules[f]]
    res: dict[str, Any] = {
        "paths": [],
        "optional": [],
        "kind": "file",
        "modules": {},
        "in_process": [],
        "function": None,
    }
    if entrypoint == "CSVSubmissionTasks":
        res.update(paths=["submission.csv"], kind="csv")
    elif entrypoint == "PythonSubmissionTasks":
        named = [f for f in ws_modules if re.search(rf"(?<![\w/]){re.escape(f)}\b", description)]
        if not named and len(ws_modules) == 1:
            named = list(ws_modules)
        if not named:
            raise TaskSpecError(
                str(file),
                "task_entrypoint",
                "PythonSubmissionTasks: cannot tell the agent's module; the evaluator "
                f"{evals[0] if evals else '(none)'} imports "
                f"{', '.join(ws_modules) or 'no starter module'} and the description names none "
                "of them",
            )
        missing_names = [f for f in named if not ws_modules[f]]
        if missing_names:
            raise TaskSpecError(
                str(file),
                "evaluation_paths",
                f"the evaluator imports {missing_names[0]} as a module; rgym needs `from "
                f"{missing_names[0][:-3]} import <function>` to know what to call",
            )
        res.update(
            paths=named,
            kind="python",
            modules={f: ws_modules[f] for f in named},
            function=ws_modules[named[0]][0],
        )
    elif entrypoint == "ModelSubmissionTasks":
        res.update(
            paths=["checkpoints"],
            optional=["config.yaml", "src/config.yaml"],
            kind="directory",
            in_process=list(ws_modules),
        )
    elif entrypoint == "LMSubmissionTasks":
        quoted = re.findall(r"`([\w][\w./-]*)`", description)
        literals = string_literals(evaluator) if evaluator else set()
        named = []
        for q in quoted:
            q = q.rstrip("/")
            if ".." in Path(q).parts:
                continue
            if q in literals and q not in named and q not in layout:
                named.append(q)
        if not named:
            raise TaskSpecError(
                str(file),
                "description",
                "LMSubmissionTasks: cannot tell the artefact; rgym looks for `names` in the "
                f"description that {evals[0] if evals else 'the evaluator'} opens, and found none",
            )
        kind = "file" if Path(named[0]).suffix else "directory"
        res.update(paths=named, kind=kind, in_process=list(ws_modules))
    return res


def metric_spelling(name: str, evaluator: Path | None) -> str:
    """The evaluator's own spelling of a metric (titanic's YAML says Accuracy, its evaluator
    prints accuracy)."""
    if evaluator is None:
        return name
    literals = string_literals(evaluator)
    if name in literals:
        return name
    same = [s for s in literals if s.lower() == name.lower()]
    return same[0] if len(same) == 1 else name


def csv_columns(path: Path | None) -> list[str]:
    if path is None or not path.is_file():
        return []
    with path.open("rb") as f:
        header = f.readline().decode("utf-8", "replace").strip()
    return [h.strip().strip('"') for h in header.split(",") if h.strip()]


def requirement_names(path: Path) -> list[str]:
    """Distribution names in a requirements file (extras and version pins dropped)."""
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if m:
            out.append(m.group(0))
    return out


# --- before the episode ------------------------------------------------------------------------


def _dist_installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _module_installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def gpu_count() -> int:
    """GPUs nvidia-smi lists on this host (0 without the driver)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_packages(spec) -> tuple[list[str], str | None]:
    """(missing pip names, install command) for an imported task; ([], None) when all present."""
    ml = spec.mlgym
    missing = [PIP_NAMES.get(m, m) for m in ml.packages if not _module_installed(m)]
    req_missing: list[str] = []
    if ml.requirements:
        req_missing = [
            r for r in requirement_names(ml.repo_root / ml.requirements) if not _dist_installed(r)
        ]
    if not missing and not req_missing:
        return [], None
    if req_missing:
        listed = {_norm(r) for r in requirement_names(ml.repo_root / ml.requirements)}
        missing = [m for m in missing if _norm(m) not in listed]
        extra = f" {' '.join(missing)}" if missing else ""
        cmd = f"pip install -r {ml.repo_root / ml.requirements}{extra}"
        return sorted(set(missing) | set(req_missing)), cmd
    return missing, f"pip install {' '.join(missing)}"


def preflight(spec) -> None:
    """Stop before the episode, naming everything an imported task lacks on this machine:
    packages (with the command that installs them), a GPU, local data, Hugging Face data. Then
    prepare its data through rgym's loader, so a dataset that cannot be fetched is named here."""
    from rgym.tasks.data import prepare_data

    ml = spec.mlgym
    problems: list[str] = []
    missing, cmd = missing_packages(spec)
    if missing:
        problems.append(f"Python packages missing: {', '.join(missing)}. Install them with `{cmd}`")
    if ml.gpus:
        have = gpu_count()
        where = (
            "nvidia-smi lists none on this machine"
            if have < ml.gpus
            else f"this machine has {have}, but rgym's sandboxes do not pass GPUs through yet"
        )
        problems.append(
            f"it needs a GPU ({ml.entrypoint} evaluates with torchrun, one process per GPU, "
            f"and fails without one); {where}"
        )
    for d in ml.datasets:
        if d["is_local"] and not (ml.repo_root / d["data_path"]).is_dir():
            problems.append(
                f"local dataset {d['name']!r} ({d['config']}): its data_path "
                f"{d['data_path']!r} is not in this checkout ({ml.repo_root / d['data_path']} "
                "does not exist)"
            )
        if not d["is_local"] and not _module_installed("datasets"):
            problems.append(
                f"Hugging Face dataset {d['data_path']!r} ({d['name']}) cannot be fetched: the "
                "package `datasets` is not installed (`pip install datasets`)"
            )
    if problems:
        raise TaskUnavailable(
            f"task {spec.id!r} ({ml.file}) cannot run here:\n  - " + "\n  - ".join(problems)
        )
    try:
        prepare_data(spec, "default")
    except DataUnavailable as e:
        raise TaskUnavailable(f"task {spec.id!r} ({ml.file}) cannot run here: {e}") from None
