"""task.yaml parsing, the registry, and the MLGym task-YAML importer; errors that help."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rgym.errors import TaskNotFound, TaskSpecError
from rgym.tasks.registry import CATALOG, all_tasks, get_task
from rgym.tasks.spec import Direction, load_task


def test_builtin_tasks_load():
    tasks = all_tasks()
    assert {"titanic", "battle-of-sexes"} <= set(tasks)
    t = tasks["titanic"]
    assert t.metric.direction == Direction.max and t.gym_id == "rgym/titanic-v0"
    assert t.baseline_score() < t.reference_score()


def test_unknown_task_suggests_near_names():
    with pytest.raises(TaskNotFound, match="Did you mean 'titanic'"):
        get_task("titanik")


def _copy_titanic(tmp_path: Path) -> Path:
    dst = tmp_path / "mytask"
    shutil.copytree(CATALOG / "titanic", dst)
    return dst


@pytest.mark.parametrize(
    "old,new,field,expected",
    [
        ("family: tabular", "family: cooking", "family", "one of tabular"),
        ("  direction: max", "  direction: up", "metric.direction", "'max' or 'min'"),
        ("  kind: csv", "  kind: csv\n  colour: red", "artifact.colour", "not a known field"),
        ("metric:\n  name: accuracy\n  direction: max\n", "", "metric", "required"),
    ],
)
def test_malformed_task_yaml_names_file_and_field(tmp_path, old, new, field, expected):
    d = _copy_titanic(tmp_path)
    f = d / "task.yaml"
    text = f.read_text()
    assert old in text
    f.write_text(text.replace(old, new))
    with pytest.raises(TaskSpecError) as e:
        load_task(d)
    assert str(f) in str(e.value) and field in str(e.value) and expected in str(e.value)


def test_invalid_yaml_syntax(tmp_path):
    d = _copy_titanic(tmp_path)
    (d / "task.yaml").write_text("id: [unclosed\n")
    with pytest.raises(TaskSpecError, match="not valid YAML"):
        load_task(d)


def test_user_task_dir_is_found(tmp_path):
    d = _copy_titanic(tmp_path)
    text = (d / "task.yaml").read_text().replace("id: titanic", "id: my-titanic")
    (d / "task.yaml").write_text(text)
    assert get_task("my-titanic", [tmp_path]).root == d.resolve()


MLGYM_YAML = """\
id: regressionToy
name: Toy regression
description: |-
  Predict y. Write submission.csv.
dataset_configs: []
task_entrypoint: CSVSubmissionTasks
training_timeout: 600
use_generic_conda: true
starter_code:
  - data/toy/baseline.py
  - data/toy/evaluate.py
baseline_paths:
  - baseline.py
baseline_scores:
  - rmse: 1.5
    r2: 0.5
evaluation_paths:
  - evaluate.py
evaluation_read_only: true
secret_files:
  - data/toy/answer.csv
"""


def _toy_files(root: Path) -> None:
    toy = root / "data" / "toy"
    toy.mkdir(parents=True)
    (toy / "baseline.py").write_text("open('submission.csv', 'w').write('y\\n1\\n2\\n3\\n')\n")
    (toy / "evaluate.py").write_text(
        "import json\n"
        "pred = [float(x) for x in open('submission.csv').read().split()[1:]]\n"
        "true = [float(x) for x in open('answer.csv').read().split()[1:]]\n"
        "mse = sum((p - t) ** 2 for p, t in zip(pred, true)) / len(true)\n"
        "print(json.dumps({'rmse': mse ** 0.5, 'r2': 0.0}))\n"
    )
    (toy / "answer.csv").write_text("y\n1\n2\n5\n")


def test_mlgym_task_yaml_is_imported(tmp_path):
    _toy_files(tmp_path)
    f = tmp_path / "regressionToy.yaml"
    f.write_text(MLGYM_YAML)
    spec = load_task(f)
    assert spec.id == "mlgym/regressionToy" and spec.gym_id == "mlgym/regressionToy"
    assert spec.root == tmp_path.resolve()
    assert spec.metric.name == "rmse" and spec.metric.direction == Direction.min
    assert spec.metric.secondary == ["r2"]
    assert spec.baseline_score() == 1.5
    assert spec.graders.test.kind == "mlgym" and spec.graders.test.script == "evaluate.py"
    assert spec.mlgym.secret_files == ["data/toy/answer.csv"]
    assert spec.variant("default").limits.command_timeout == 600
    assert (spec.artifact.path, spec.artifact.kind) == ("submission.csv", "csv")


def test_a_task_yaml_of_rgym_may_not_claim_the_mlgym_namespace(tmp_path):
    d = _copy_titanic(tmp_path)
    f = d / "task.yaml"
    f.write_text(f.read_text().replace("id: titanic", "id: mlgym/titanic"))
    with pytest.raises(TaskSpecError, match="'id'"):
        load_task(d)


def test_mlgym_yaml_without_evaluator_is_rejected(tmp_path):
    _toy_files(tmp_path)
    f = tmp_path / "bad.yaml"
    f.write_text(MLGYM_YAML.replace("evaluation_paths:\n  - evaluate.py\n", ""))
    with pytest.raises(TaskSpecError, match="evaluation_paths"):
        load_task(f)


def test_imported_mlgym_task_runs_and_its_secret_file_stays_out_of_the_workspace(tmp_path):
    import rgym

    _toy_files(tmp_path)
    f = tmp_path / "regressionToy.yaml"
    f.write_text(MLGYM_YAML)
    env = rgym.make(str(f), sandbox="bwrap" if shutil.which("bwrap") else "local")
    try:
        env.reset()
        assert "answer" not in env.step("ls")[0]
        env.step("python baseline.py")
        env.step("echo 'y' > answer.csv")  # a fake answer in the workspace is overwritten
        info = env.step("submit")[4]
        assert info["exit_status"] == "submitted"
        assert info["test_score"] == pytest.approx((4 / 3) ** 0.5)
    finally:
        env.close()


def test_a_missing_reference_folder_is_named(tmp_path):
    d = _copy_titanic(tmp_path)
    shutil.rmtree(d / "reference")
    with pytest.raises(TaskSpecError, match="reference.files"):
        load_task(d)


def test_a_starter_may_be_layered_from_shared_folders_and_files(tmp_path):
    d = _copy_titanic(tmp_path)
    shared = tmp_path / "_shared"
    (shared / "lib").mkdir(parents=True)
    (shared / "lib" / "util.py").write_text("SHARED = 1\n")
    (shared / "baseline.py").write_text("overwritten by the task's own starter\n")
    (shared / "notes.txt").write_text("one file\n")
    y = d / "task.yaml"
    y.write_text(
        y.read_text().replace(
            "starter: starter", "starter: [../_shared, ../_shared/notes.txt, starter]"
        )
    )
    spec = load_task(d)
    ws = tmp_path / "ws"
    ws.mkdir()
    spec.lay_out(spec.starter, ws)
    assert (ws / "lib" / "util.py").read_text() == "SHARED = 1\n"
    assert (ws / "notes.txt").read_text() == "one file\n"
    assert (ws / "baseline.py").read_bytes() == (d / "starter" / "baseline.py").read_bytes()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("[starter, ../../outside]", "starter\\[1\\].*outside the task's catalogue"),
        ("[starter, ../_missing]", "starter\\[1\\].*does not exist"),
    ],
)
def test_a_starter_entry_outside_the_catalogue_or_missing_is_named(tmp_path, entry, expected):
    d = _copy_titanic(tmp_path)
    (tmp_path.parent / "outside").mkdir(exist_ok=True)
    y = d / "task.yaml"
    y.write_text(y.read_text().replace("starter: starter", f"starter: {entry}"))
    with pytest.raises(TaskSpecError, match=expected):
        load_task(d)
