"""MLGym task YAMLs read in place: layout, ids and their namespace, the prompt, the artefact,
load errors that name what is wrong, and how a name resolves to a task (no sandbox needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import gymnasium
import pytest

from rgym.errors import TaskNotFound, TaskSpecError
from rgym.tasks.mlgym_data import TaskUnavailable
from rgym.tasks.registry import CATALOG, all_tasks, get_task, task_problems
from rgym.tasks.spec import Direction, load_task

IDS = {"mlgym/coinGame", "mlgym/guessLabels"}


@pytest.mark.parametrize("where", ["", "configs", "configs/tasks"])
def test_a_checkout_loads_in_place_from_its_root_or_configs(repo, where):
    tasks = all_tasks([repo / where] if where else [repo])
    assert IDS <= set(tasks)
    for tid in IDS:
        spec = tasks[tid]
        assert spec.root == repo.resolve()  # paths are the repository root's, as in MLGym
        assert spec.mlgym.file == (repo / "configs" / "tasks" / f"{tid[6:]}.yaml").resolve()


def test_a_yaml_loaded_by_path_finds_its_repository_root(repo):
    spec = load_task(repo / "configs" / "tasks" / "coinGame.yaml")
    assert spec.id == "mlgym/coinGame" and spec.root == repo.resolve()
    assert spec.path(spec.mlgym.starter_code[0]).is_file()


def test_ids_stay_mlgyms_in_their_own_namespace_and_never_shadow_builtins(repo):
    game = repo / "configs" / "tasks" / "coinGame.yaml"
    game.write_text(game.read_text().replace("id: coinGame", "id: battle-of-sexes"))
    tasks = all_tasks([repo])
    assert "mlgym/battle-of-sexes" in tasks
    assert tasks["battle-of-sexes"].root == (CATALOG / "battle-of-sexes").resolve()
    assert get_task("battle-of-sexes", [repo]).mlgym is None
    assert get_task("mlgym/battle-of-sexes", [repo]).mlgym.mlgym_id == "battle-of-sexes"


def test_mlgym_ids_are_kept_as_written(repo):
    game = repo / "configs" / "tasks" / "coinGame.yaml"
    game.write_text(game.read_text().replace("id: coinGame", "id: 3SATTime"))
    assert get_task("mlgym/3SATTime", [repo]).name == "Coin Game"


def test_a_duplicate_id_is_an_error_naming_both_files(repo, caplog):
    tasks_dir = repo / "configs" / "tasks"
    shutil.copy(tasks_dir / "coinGame.yaml", tasks_dir / "coinGameL1.yaml")
    with pytest.raises(TaskSpecError) as e:
        get_task("mlgym/coinGame", [repo])
    msg = str(e.value)
    assert str(tasks_dir / "coinGame.yaml") in msg and str(tasks_dir / "coinGameL1.yaml") in msg
    # neither silently replaces the other: the id is left out of the listing, with the reason
    assert "mlgym/coinGame" not in all_tasks([repo])
    assert "coinGameL1.yaml" in caplog.text
    assert "mlgym/coinGame" in task_problems([repo])
    # each file still runs by its path
    assert get_task(str(tasks_dir / "coinGameL1.yaml")).id == "mlgym/coinGame"


def test_a_user_task_with_a_builtin_id_is_an_error_naming_both_files(tmp_path):
    d = tmp_path / "tasks" / "my-titanic"
    shutil.copytree(CATALOG / "titanic", d)
    with pytest.raises(TaskSpecError) as e:
        get_task("titanic", [tmp_path / "tasks"])
    assert str(d / "task.yaml") in str(e.value)
    assert str(CATALOG / "titanic" / "task.yaml") in str(e.value)


def test_gymnasium_make_works_for_listed_imported_ids(repo):
    assert "mlgym/guessLabels" in all_tasks([repo])
    assert gymnasium.registry["mlgym/guessLabels"].kwargs["task"] == str(
        (repo / "configs" / "tasks" / "guessLabels.yaml").resolve()
    )
    env = gymnasium.make("mlgym/guessLabels", sandbox="local")
    try:
        assert env.unwrapped.spec_.id == "mlgym/guessLabels"
    finally:
        env.close()


def test_the_prompt_is_filled_as_mlgym_fills_it(repo):
    spec = get_task("mlgym/guessLabels", [repo], check=False)
    assert "{dataset_docs}" not in spec.description
    docs = (
        "GUESSDATA:\nRows with an id and a feature x; train.csv also has the label y (0 or 1).\n\n"
    )
    assert f"data/test.csv.\n{docs}\nLiteral braces" in spec.description
    assert "Literal braces stay braces: {id: y}." in spec.description


def test_a_description_with_another_placeholder_is_named(repo):
    f = repo / "configs" / "tasks" / "guessLabels.yaml"
    f.write_text(f.read_text().replace("{{id: y}}", "{idy}"))
    with pytest.raises(TaskSpecError, match=r"description.*\{idy\}"):
        load_task(f)


def test_the_artefact_follows_the_entry_point(repo):
    game = get_task("mlgym/coinGame", [repo], check=False)
    assert (game.artifact.path, game.artifact.kind, game.artifact.function) == (
        "strategy.py",
        "python",
        "row_strategy",
    )
    assert game.mlgym.modules == {"strategy.py": ["row_strategy"]}  # target.py is not the agent's
    csv = get_task("mlgym/guessLabels", [repo], check=False)
    assert (csv.artifact.path, csv.artifact.kind) == ("submission.csv", "csv")
    assert csv.artifact.columns == ["id", "y"]  # from the sample submission
    assert csv.metric.name == "accuracy"  # the YAML says Accuracy; the evaluator prints accuracy
    assert csv.metric.direction == Direction.max and csv.baseline_score() == 0.5


def _write_task(repo: Path, name: str, entry: str, description: str, files: dict[str, str]):
    d = repo / "data" / name
    d.mkdir(parents=True)
    for rel, text in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    starters = sorted({f"data/{name}/{rel.split('/')[0]}" for rel in files})
    (repo / "configs" / "tasks" / f"{name}.yaml").write_text(
        f"id: {name}\nname: {name}\ndescription: |-\n"
        + "".join(f"  {line}\n" for line in description.splitlines())
        + f"task_entrypoint: {entry}\nstarter_code:\n"
        + "".join(f"  - {s}\n" for s in starters)
        + "evaluation_paths:\n  - evaluate.py\nbaseline_scores:\n  - Reward Mean: 1.0\n"
    )


def test_checkpoint_and_model_file_artefacts(repo):
    _write_task(
        repo,
        "rlToy",
        "ModelSubmissionTasks",
        "Save `checkpoints/` and `config.yaml`.",
        {
            "evaluate.py": "from src.networks import get_model\nprint('{}')\n",
            "src/networks.py": "def get_model():\n    return None\n",
            "src/config.yaml": "lr: 1\n",
        },
    )
    _write_task(
        repo,
        "lmToy",
        "LMSubmissionTasks",
        "Save `model.pt` with `torch.save` and `model_config.pt`.",
        {
            "evaluate.py": "from baseline import Model\n"
            "open('model.pt')\nopen('model_config.pt')\n",
            "baseline.py": "class Model:\n    pass\n",
        },
    )
    rl = load_task(repo / "configs" / "tasks" / "rlToy.yaml")
    assert (rl.artifact.path, rl.artifact.kind) == ("checkpoints", "directory")
    assert rl.mlgym.in_process == ["src/networks.py"] and rl.family == "rl"
    lm = load_task(repo / "configs" / "tasks" / "lmToy.yaml")
    assert lm.mlgym.artifacts == ["model.pt", "model_config.pt"] and lm.artifact.kind == "file"
    assert lm.mlgym.gpus == 1


@pytest.mark.parametrize(
    "old,new,field,named",
    [
        ("data/coinGame/target.py", "data/coinGame/opponent.py", "starter_code", "opponent.py"),
        ("PythonSubmissionTasks", "BaseMLTask", "task_entrypoint", "BaseMLTask"),
        ("  - evaluate.py\nevaluation_read_only", "  - eval.py\nevaluation_read_only",
         "evaluation_paths", "eval.py"),
    ],
)  # fmt: skip
def test_load_errors_name_the_file_the_field_and_the_path(repo, old, new, field, named):
    f = repo / "configs" / "tasks" / "coinGame.yaml"
    assert old in f.read_text()
    f.write_text(f.read_text().replace(old, new))
    with pytest.raises(TaskSpecError) as e:
        get_task(str(f))
    assert str(f) in str(e.value) and field in str(e.value) and named in str(e.value)


def test_a_missing_dataset_config_is_named(repo):
    (repo / "configs" / "datasets" / "guessData.yaml").unlink()
    with pytest.raises(TaskSpecError, match="dataset_configs.*guessData.yaml"):
        get_task("mlgym/guessLabels", [repo])


def test_a_broken_task_stops_rgym_run_before_the_episode_with_a_clean_message(repo, tmp_path):
    (repo / "data" / "coinGame" / "target.py").unlink()
    runs = tmp_path / "runs"
    p = subprocess.run(
        [sys.executable, "-m", "rgym.cli", "run", "mlgym/coinGame", "--tasks-dir", str(repo)]
        + ["--runs-dir", str(runs), "--sandbox", "local", "--actions", str(tmp_path / "a.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2
    err = " ".join(p.stderr.split())
    assert "starter_code" in err and "data/coinGame/target.py" in err
    assert "Traceback" not in p.stderr and "AttributeError" not in p.stderr
    assert not runs.exists()  # stopped before any episode


def test_a_missing_package_is_named_with_its_install_command(repo):
    ev = repo / "data" / "guessLabels" / "evaluate.py"
    ev.write_text("import rgym_no_such_package_xyz\n" + ev.read_text())
    with pytest.raises(TaskUnavailable) as e:
        get_task("mlgym/guessLabels", [repo])
    assert "`pip install rgym_no_such_package_xyz`" in str(e.value)


def test_a_requirements_file_is_named_in_the_install_command(repo):
    (repo / "data" / "guessLabels" / "requirements.txt").write_text("rgym-no-such-dist[cuda]>=1\n")
    f = repo / "configs" / "tasks" / "guessLabels.yaml"
    f.write_text(
        f.read_text().replace(
            "use_generic_conda: true",
            "use_generic_conda: false\nrequirements_path: data/guessLabels/requirements.txt",
        )
    )
    with pytest.raises(TaskUnavailable) as e:
        get_task("mlgym/guessLabels", [repo])
    req = repo / "data" / "guessLabels" / "requirements.txt"
    assert "rgym-no-such-dist" in str(e.value) and f"pip install -r {req}" in str(e.value)


def test_a_hugging_face_dataset_that_cannot_be_fetched_stops_before_the_episode(repo):
    (repo / "configs" / "datasets" / "hub.yaml").write_text(
        "name: HubData\ndescription: rows\ndata_path: rgym-test-org/no-such-dataset\n"
        "is_local: false\n"
    )
    f = repo / "configs" / "tasks" / "guessLabels.yaml"
    f.write_text(f.read_text().replace("  - datasets/guessData.yaml\n", "  - datasets/hub.yaml\n"))
    with pytest.raises(TaskUnavailable, match="rgym-test-org/no-such-dataset"):
        get_task("mlgym/guessLabels", [repo])


def test_missing_local_data_is_named(repo):
    shutil.rmtree(repo / "data" / "guessLabels" / "data")
    f = repo / "configs" / "tasks" / "guessLabels.yaml"
    f.write_text(f.read_text().replace("  - data/guessLabels/data/labels.csv\n", ""))
    with pytest.raises(TaskUnavailable, match="data/guessLabels/data"):
        get_task("mlgym/guessLabels", [repo])


def test_an_lm_task_stops_naming_the_gpu_it_needs(repo):
    _write_task(
        repo,
        "lmToy",
        "LMSubmissionTasks",
        "Save `model.pt`.",
        {"evaluate.py": "open('model.pt')\n"},
    )
    with pytest.raises(TaskUnavailable, match="needs a GPU"):
        get_task("mlgym/lmToy", [repo])


# --- finding 9: a bare id never loads a folder from the current directory -------------------


def test_a_bare_id_never_loads_a_folder_in_the_current_directory(tmp_path, monkeypatch):
    marker = tmp_path / "prepare-ran"
    for name in ("titanic", "lookalike"):
        d = tmp_path / name
        shutil.copytree(CATALOG / "titanic", d)
        (d / "task.yaml").write_text(
            (d / "task.yaml").read_text().replace("id: titanic", f"id: {name}")
        )
        (d / "prepare.py").write_text(
            f"def prepare(public, private, **kw):\n    open({str(marker)!r}, 'w').write('ran')\n"
        )
    monkeypatch.chdir(tmp_path)
    import rgym

    assert rgym.spec("titanic").root == (CATALOG / "titanic").resolve()
    env = rgym.make("titanic", sandbox="local")
    env.close()
    assert env.spec_.root == (CATALOG / "titanic").resolve()
    with pytest.raises(TaskNotFound):
        get_task("lookalike")
    assert not marker.exists()
    assert get_task("./lookalike").root == (tmp_path / "lookalike").resolve()  # a path, on purpose


def test_rgym_tasks_lists_imported_ids(repo):
    env = {**os.environ, "RGYM_TASKS_DIR": str(repo / "configs" / "tasks")}
    p = subprocess.run(
        [sys.executable, "-m", "rgym.cli", "tasks", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert IDS <= {row["id"] for row in __import__("json").loads(p.stdout)}
