"""End to end through the real `rgym` command: scored runs with complete records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import requires_bwrap

RGYM = [sys.executable, "-m", "rgym.cli"]


def rgym(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*RGYM, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@requires_bwrap
@pytest.mark.parametrize("task", ["titanic", "battle-of-sexes"])
def test_rgym_run_produces_a_complete_record_above_baseline(task, tmp_path):
    p = rgym("run", task, "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "exit status" in p.stdout and "submitted" in p.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    result = json.loads((run_dir / "result.json").read_text())
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    assert manifest["task"] == task and manifest["sandbox"] == "bwrap"
    assert result["exit_status"] == "submitted"
    assert result["test_score"] > result["baseline_score"]
    assert result["normalised_score"] > 0
    types = [e["type"] for e in events]
    assert types[0] == "reset" and "action" in types and "evaluation" in types
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert any((run_dir / "artifact").iterdir())
    assert result["totals"]["steps"] == types.count("action")


def test_unknown_task_is_a_clean_error(tmp_path):
    p = rgym("run", "titanc", cwd=tmp_path)
    assert p.returncode == 2
    assert "Did you mean 'titanic'" in p.stderr and "Traceback" not in p.stderr


def test_tasks_lists_the_catalogue(tmp_path):
    p = rgym("tasks", "--json", cwd=tmp_path)
    rows = {r["id"]: r for r in json.loads(p.stdout)}
    assert rows["titanic"]["metric"] == "accuracy" and rows["titanic"]["direction"] == "max"


def test_replay_actions_file_and_crashed_agent_record(tmp_path):
    actions = tmp_path / "actions.yaml"
    actions.write_text("- cat strategy.py\n- validate\n")
    p = rgym(
        "run",
        "battle-of-sexes",
        "--actions",
        str(actions),
        "--runs-dir",
        str(tmp_path / "runs"),
        "--sandbox",
        "local",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert "NO ISOLATION" in p.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["exit_status"] == "auto_submitted:agent_stopped"
    assert result["sandbox"] == "local"
