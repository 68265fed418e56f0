"""`rgym batch` as a command: its errors, exit codes and light import."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from rgym.cli import app

cli = CliRunner()


def test_a_spec_file_and_matrix_flags_do_not_mix(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("tasks: [titanic]\n")
    done = cli.invoke(app, ["batch", str(spec), "--task", "blotto", "--seeds", "2"])
    assert done.exit_code == 2
    assert "--task, --seeds build a matrix without a spec file" in done.output


def test_nothing_to_run_is_a_usage_error():
    done = cli.invoke(app, ["batch"])
    assert done.exit_code == 2 and "give a SPEC file, or the tasks with --task" in done.output


def test_unknown_tasks_stop_it_before_anything_starts(tmp_path):
    out = tmp_path / "b"
    done = cli.invoke(app, ["batch", "--task", "titanik", "--out", str(out)])
    assert done.exit_code == 2
    assert "field 'tasks.0': Unknown task 'titanik'. Did you mean 'titanic'" in done.output
    assert not out.exists()


def test_the_ray_backend_names_what_to_install_when_it_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "rgym.batch.ray_backend", None)  # as if not installed
    done = cli.invoke(
        app, ["batch", "--task", "blotto:tiny", "--backend", "ray", "--out", str(tmp_path / "b")]
    )
    assert done.exit_code == 2
    assert "pip install 'rgym[ray]'" in done.output
    assert not (tmp_path / "b").exists()


def test_the_command_module_imports_nothing_heavy():
    code = (
        "import sys, rgym.batch.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('rgym.batch.', 'ray', 'rich.live'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['rgym.batch.cli']"
