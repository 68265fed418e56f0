"""End to end through the real `rgym` command: scored runs with complete records."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
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


# --- output in pipes, narrow terminals and scripts ---------------------------------------------


def in_terminal(argv: list[str], width: int, cwd: Path) -> str:
    """Run the real CLI with stdout and stderr a terminal (a pty) `width` columns wide; the
    output with ANSI escapes removed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm"
    p = subprocess.Popen([*RGYM, *argv], stdout=slave, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert p.wait(timeout=600) == 0, b"".join(chunks).decode(errors="replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode()).replace("\r", "")


def task_ids(cwd: Path) -> list[str]:
    return [r["id"] for r in json.loads(rgym("tasks", "--json", cwd=cwd).stdout)]


def whole_words(text: str) -> set[str]:
    return set(re.split(r"[\s│┃|]+", text))


def test_tasks_in_a_pipe_are_plain_rows_with_whole_ids(tmp_path):
    ids = task_ids(tmp_path)
    assert {"sat-heuristic", "battle-of-sexes", "house-price", "house-price-l1"} <= set(ids)
    for columns in (None, "40"):
        env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
        if columns:
            env["COLUMNS"] = columns
        p = subprocess.run([*RGYM, "tasks"], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert p.returncode == 0 and "…" not in p.stdout
        lines = p.stdout.splitlines()
        header = ["id", "family", "variants", "metric", "dir", "baseline", "reference"]
        assert lines[0].split() == header
        assert [line.split()[0] for line in lines[1:]] == ids  # one row per task, id first


@pytest.mark.parametrize("width", [40, 80])
def test_tasks_in_a_narrow_terminal_never_cut_an_id(tmp_path, width):
    out = in_terminal(["tasks"], width, tmp_path)
    assert "…" not in out and max(map(len, out.splitlines())) <= width
    assert set(task_ids(tmp_path)) <= whole_words(out)


@requires_bwrap
@pytest.mark.parametrize("width", [40, 80, None])
def test_the_run_summary_never_cuts_the_run_record_path(tmp_path, width):
    actions = tmp_path / "actions.yaml"
    actions.write_text("- submit\n")
    runs = tmp_path / "a-rather-long-folder-name-for-the-run-records-of-this-test"
    argv = ["run", "battle-of-sexes", "--actions", str(actions), "--runs-dir", str(runs)]
    if width is None:  # a pipe
        p = rgym(*argv, cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        out = p.stdout
        assert "run record: " in out and "┃" not in out and "│" not in out
    else:
        out = in_terminal(argv, width, tmp_path)
    (run_dir,) = runs.iterdir()
    assert str(run_dir) in out and "…" not in out
    assert "submitted" in out


def test_data_info_and_report_have_json(tmp_path):
    p = rgym("data", "info", "battle-of-sexes", "--json", cwd=tmp_path)
    info = json.loads(p.stdout)
    assert p.returncode == 0 and "licence" in info
    p = rgym("data", "info", "battle-of-sexes", cwd=tmp_path)
    assert p.returncode == 0 and "licence" in p.stdout and not p.stdout.lstrip().startswith("{")
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    result = {
        "run_id": "r1",
        "task_id": "titanic",
        "model": "m",
        "metric": "accuracy",
        "direction": "max",
        "test_score": 0.8,
        "baseline_score": 0.77,
    }
    (run / "result.json").write_text(json.dumps(result))
    p = rgym("report", str(tmp_path / "runs"), "--json", cwd=tmp_path)
    assert p.returncode == 0 and "best_attempt" in json.loads(p.stdout)["tables"]


@requires_bwrap
def test_verify_has_json(tmp_path):
    p = rgym("verify", "battle-of-sexes", "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    (row,) = json.loads(p.stdout)["tasks"]
    assert row["task"] == "battle-of-sexes" and row["ok"] is True
    assert row["reference"] > row["baseline"]


@pytest.mark.parametrize(
    "argv, literal",
    [
        (["run", "rgym[llm]"], "rgym[llm]"),
        (["run", "battle-of-sexes", "--actions", "plan[bold]x.yaml"], "plan[bold]x.yaml"),
        (["data", "info", "[red]nope"], "[red]nope"),
    ],
)
def test_error_text_keeps_its_square_brackets(tmp_path, argv, literal):
    p = rgym(*argv, cwd=tmp_path)
    assert p.returncode == 2 and literal in p.stderr and "Traceback" not in p.stderr


def test_help_explains_each_command_with_examples(tmp_path):
    env = {**os.environ, "COLUMNS": "120"}

    def help_of(*argv: str) -> str:
        p = subprocess.run([*RGYM, *argv, "--help"], capture_output=True, text=True, env=env)
        assert p.returncode == 0, p.stderr
        return p.stdout

    top = help_of()
    assert "Examples" in top and "rgym run titanic" in top
    for command in ("tasks", "run", "verify", "report", "data"):
        assert command in top
    for argv in (["tasks"], ["run"], ["verify"], ["report"], ["data"], ["data", "info"]):
        assert "Examples" in help_of(*argv), argv
    assert "MLGym trajectory" in help_of("run")
