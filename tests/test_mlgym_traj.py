"""MLGym trajectories (.traj files and run folders) replayed by `rgym run --actions`.

The fixtures are written here in MLGym's on-disk format (a run folder named
<model>__<task>__<agent config>__t-..._run_<i> holding <task>.traj and results.json); their
content is our own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rgym.agent.replay import load_actions
from rgym.errors import ConfigError
from rgym.models.replay import load_replies
from rgym.runs.mlgym_traj import (
    convert_steps,
    guard_text_commands,
    is_mlgym_source,
    mlgym_id,
    parse_view,
    read_trajectory,
    recorded_views,
    same_task,
)
from tests.conftest import requires_bwrap

RGYM = [sys.executable, "-m", "rgym.cli"]
RUN_NAME = "metagen-test-model__{task}__default__t-0.00__p-0.95__c-4.00__install-0__parallel_run_0"

ALWAYS_ZERO = "import random\n\n\ndef row_strategy(history):\n    return 0\n"
BOS_STEPS = [
    "ls\n",
    'open "strategy.py"\n',
    # rgym's starter has fewer lines than 40: MLGym's edit replaces up to the end
    f"edit 1:40\n{ALWAYS_ZERO}end_of_edit\n",
    "validate\n",
    "edit 5:5\n",  # no end_of_edit: MLGym refused it without running it
    "insert 4\n    # the move we prefer, every round\nend_of_insert\n",
    "edit 2:3\nend_of_edit\n",  # no text: deletes lines 2-3
    "search_file return\n",
    "memory_write the opponent copies our first move\n",
    "submit\n",
]
FINAL = (
    "import random\ndef row_strategy(history):\n    # the move we prefer, every round\n"
    "    return 0\n"
)


def write_run(
    root: Path,
    task: str,
    actions: list[str],
    scores: list[float],
    exit_status: str = "submitted",
    baseline: float = 1.0227,
    observations: dict[int, str] | None = None,
) -> Path:
    """An MLGym run folder with <task>.traj and results.json (observations by step number)."""
    observations = observations or {}
    run = root / RUN_NAME.format(task=task)
    run.mkdir(parents=True)
    steps = [
        {
            "action": a,
            "observation": observations.get(i, ""),
            "response": f"DISCUSSION\nstep {i}\n\n```\n{a.rstrip()}\n```",
            "state": "{}",
            "thought": f"DISCUSSION\nstep {i}",
            "execution_time": 0.1,
        }
        for i, a in enumerate(actions, 1)
    ]
    history = [{"role": "system", "content": "system", "agent": "primary_0"}]
    for s in steps:
        history += [
            {"role": "user", "content": "obs", "agent": "primary_0"},
            {"role": "assistant", "content": s["response"], "agent": "primary_0"},
        ]
    score = [{"Score": v} for v in scores]
    traj = {
        "environment": "mlgym_main",
        "trajectory": steps,
        "history": history,
        "info": {
            "model_stats": {"total_cost": 0.1, "tokens_sent": 10, "tokens_received": 5},
            "exit_status": exit_status,
            "submission": "/home/agent/workspace/target.py",
            "score": score,
            "summarizer": {},
        },
    }
    (run / f"{task}.traj").write_text(json.dumps(traj))
    (run / "results.json").write_text(json.dumps({"agent": score, "baseline": {"Score": baseline}}))
    return run


# --- conversion ---------------------------------------------------------------------------------


def test_a_run_folder_converts_to_actions_with_a_note_for_every_change(tmp_path):
    run = write_run(tmp_path, "battleOfSexes", BOS_STEPS, [1.4431, 1.4418])
    assert is_mlgym_source(run) and is_mlgym_source(run / "battleOfSexes.traj")
    acts = load_actions(run)
    traj = acts.source
    assert acts.label == "mlgym:test-model" and traj.task_id == "battleOfSexes"
    assert traj.rgym_task == "battle-of-sexes"
    assert [a["action"].split("\n")[0] for a in acts] == [
        "ls",
        'open "strategy.py"',
        "edit 1:40 << 'end_of_edit'",
        "validate",
        "insert 4 << 'end_of_insert'",
        "printf '' | edit 2:3",
        "search_file return",
        "submit",
    ]
    assert acts[2]["action"] == f"edit 1:40 << 'end_of_edit'\n{ALWAYS_ZERO}end_of_edit"
    assert acts[2]["thought"] == "DISCUSSION\nstep 3"
    notes = "\n".join(acts.notes)
    assert "step 5: `edit 5:5` has no end_of_edit" in notes
    assert "step 9: `memory_write" in notes and "left out" in notes
    assert "3 edit/insert commands given their text as heredocs" in notes
    assert (traj.last, traj.best, traj.validations) == (1.4418, 1.4431, 1)
    summary = traj.summary()
    assert "10 steps -> 8 actions to replay (1 validate, 1 submit)" in summary
    assert "Score last 1.4418, best 1.4431, baseline 1.0227" in summary


@pytest.mark.parametrize(
    "exit_status, last, expected_end, kept",
    [
        ("autosubmission (exit_format)", "exit_format", "format_error", 2),
        ("autosubmission (exit_context)", "exit_context", "context", 2),
        ("autosubmission (exit_cost)", "exit_cost", "cost", 2),
        # past MLGym's step limit the last action never ran
        ("autosubmission (max_steps)", "validate\n", "steps", 2),
        ("skipped", "skip", None, 2),
    ],
)
def test_endings_map_to_rgym_budget_kinds(exit_status, last, expected_end, kept):
    steps = [{"action": "ls\n"}, {"action": "validate\n"}, {"action": last}]
    actions, notes = convert_steps(steps, exit_status)
    assert [a["action"] for a in actions if "action" in a] == ["ls", "validate"][:kept]
    ends = [a["end"] for a in actions if "end" in a]
    assert ends == ([expected_end] if expected_end else [])
    assert len(notes) == 1 and "step 3" in notes[0]


def test_actions_bash_cannot_parse_are_left_out_as_mlgym_never_ran_them():
    steps = [
        {"action": "create new.py\nimport random\ndef f(:\n    pass\n"},  # text, no heredoc
        {"action": "edit 1:1\ndef f(:\nend_of_edit\n"},  # fine: the text is a heredoc
        {"action": "ls && (cd data"},
    ]
    actions, notes = convert_steps(steps)
    assert [a["action"].split("\n")[0] for a in actions] == ["edit 1:1 << 'end_of_edit'"]
    assert [n.split(":")[0] for n in notes[1:]] == ["step 1", "step 3"]
    assert "`bash -n`" in notes[1]


def test_text_commands_become_heredocs_and_others_pass_unchanged():
    action, changed = guard_text_commands("edit 3:4\n    x = 1\nend_of_edit")
    assert changed and action == "edit 3:4 << 'end_of_edit'\n    x = 1\nend_of_edit"
    action, changed = guard_text_commands("edit 3:4 << 'end_of_edit'\nx\nend_of_edit")
    assert not changed  # already a heredoc
    action, changed = guard_text_commands("python train.py && validate")
    assert not changed and action == "python train.py && validate"
    action, changed = guard_text_commands("insert 0\nimport os\nend_of_insert\nls")
    assert action == "insert 0 << 'end_of_insert'\nimport os\nend_of_insert\nls"
    action, changed = guard_text_commands("editor --help")
    assert not changed


def test_task_ids_are_matched_across_mlgym_rgym_and_imported_names():
    assert mlgym_id("battle-of-sexes") == "battleOfSexes"
    assert mlgym_id("mlgym/battleOfSexes") == "battleOfSexes"
    assert mlgym_id("3SATTime") == "3SATTime" and mlgym_id("sat-heuristic") == "3SATTime"
    assert mlgym_id("titanic") == "titanicSurvival" and mlgym_id("my-task") is None
    assert same_task("house-price-l1", "regressionKaggleHousePriceL1")
    assert not same_task("house-price", "regressionKaggleHousePriceL1")


def test_unreadable_and_ambiguous_sources_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.traj"
    bad.write_text('{"trajectory": [')
    with pytest.raises(ConfigError, match="not a readable MLGym file"):
        load_actions(bad)
    not_traj = tmp_path / "x.traj"
    not_traj.write_text('{"history": []}')
    with pytest.raises(ConfigError, match="no 'trajectory' list"):
        load_actions(not_traj)
    two = tmp_path / "two"
    two.mkdir()
    (two / "a.traj").write_text("{}")
    (two / "b.traj").write_text("{}")
    with pytest.raises(ConfigError, match="holds 2 .traj files"):
        load_actions(two)
    as_json = tmp_path / "traj.json"
    as_json.write_text(json.dumps({"trajectory": []}))
    with pytest.raises(ConfigError, match="looks like an MLGym trajectory"):
        load_actions(as_json)


# A starter as MLGym's agent might have seen it: not rgym's starter, so line numbers differ.
SEEN = [
    "import random",
    "",
    "",
    "def row_strategy(history):",
    '    """Pick 0 or 1."""',
    "    if not history:",
    "        return 0",
    "    # follow the partner's last move",
    "    return history[-1][1]",
]


def view(lines: list[str], path: str = "/home/agent/workspace/strategy.py") -> str:
    numbered = [f"{i}:{x}" for i, x in enumerate(lines, 1)]
    return "\n".join([f"[File: {path} ({len(lines)} lines total)]", *numbered])


def test_files_seen_whole_before_the_first_edit_are_recorded():
    assert parse_view(view(SEEN)) == ("/home/agent/workspace/strategy.py", SEEN)
    assert parse_view("Warning: line 99 is past the end\n" + view(SEEN))[1] == SEEN
    cut = view(SEEN).replace("\n9:", "\n(1 more lines below)\n9:")
    assert parse_view(cut) is None and parse_view("ls output") is None
    steps = [
        {"action": "open strategy.py", "observation": view(SEEN)},
        {"action": "open target.py", "observation": view(["x"], "/home/agent/workspace/target.py")},
        {"action": "open /tmp/notes.txt", "observation": view(["n"], "/tmp/notes.txt")},
        {"action": "edit 1:1\nx\nend_of_edit", "observation": ""},
        {"action": "open later.py", "observation": view(["y"], "/home/agent/workspace/later.py")},
    ]
    assert recorded_views(steps) == {"strategy.py": (1, SEEN), "target.py": (2, ["x"])}
    existing = "Error: File 'strategy.py' already exists.\n" + view(SEEN)
    steps = [
        {"action": "edit 1:2\nx\nend_of_edit", "observation": "No file open. Use open first."},
        {"action": "create strategy.py", "observation": existing},  # changed nothing
        *steps[3:],
    ]
    assert recorded_views(steps) == {"strategy.py": (2, SEEN)}  # up to the edit that applied


def test_the_replay_model_reads_an_mlgym_run_folder(tmp_path):
    run = write_run(tmp_path, "battleOfSexes", ["ls\n", "submit\n"], [1.0])
    replies = load_replies(run)
    assert [r["content"].splitlines()[-2] for r in replies] == ["ls", "submit"]
    assert read_trajectory(run).model == "test-model"


# --- replays through the real CLI, sandbox and grader ---------------------------------------------


def rgym(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*RGYM, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@requires_bwrap
def test_rgym_run_replays_an_mlgym_run_folder_to_the_recorded_score(tmp_path):
    recorded = 1.4418  # MLGym's evaluator on always-0 (MLGYM.md: 1.4432; noise about 0.005)
    run = write_run(tmp_path / "mlgym", "battleOfSexes", BOS_STEPS, [1.4431, recorded])
    p = rgym("run", "battle-of-sexes", "--actions", str(run), "--runs-dir", "runs", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "10 steps -> 8 actions to replay" in p.stderr and "malformed edit" in p.stderr
    assert "MLGym recorded Score: last 1.4418" in p.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["exit_status"] == "submitted" and result["model"] == "mlgym:test-model"
    assert abs(result["test_score"] - recorded) < 0.03
    assert len(result["dev_scores"]) == 1 and abs(result["dev_scores"][0] - 1.4431) < 0.03
    assert (run_dir / "artifact" / "strategy.py").read_text() == FINAL
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    assert any(e["type"] == "note" and "MLGym trajectory" in e["message"] for e in events)
    observations = [e["observation"] for e in events if e["type"] == "observation"]
    assert observations[1].startswith("[File: /home/agent/workspace/strategy.py (")
    assert "command not found" not in "".join(observations)


@requires_bwrap
def test_a_trajectory_longer_than_the_budget_grows_it_and_ends_as_mlgym_did(tmp_path):
    """35 steps and 12 validations against the task's 30 steps / 10 validations; the run ended
    on MLGym's step limit, so its last action is dropped and the artefact scored as it is."""
    actions = ['open "strategy.py"\n', f"edit 1:40\n{ALWAYS_ZERO}end_of_edit\n", *["true\n"] * 20]
    actions += ["validate\n"] * 12 + ["submit\n"]
    run = write_run(tmp_path, "battleOfSexes", actions, [1.44] * 13, "autosubmission (max_steps)")
    p = rgym(
        "run", "battle-of-sexes", "--actions", str(run / "battleOfSexes.traj"),
        "--runs-dir", "runs", "-q", cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert "--max-steps 34 (the task's: 30)" in p.stderr
    assert "--max-validations 12 (the task's: 10)" in p.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["exit_status"] == "auto_submitted:steps"
    assert len(result["dev_scores"]) == 12 and result["test_score"] > 1.4


@requires_bwrap
def test_a_hand_converted_list_of_mlgym_actions_replays_with_the_tools(tmp_path):
    """The issue's second failure: MLGym actions as a plain list. The tools are on PATH, an
    `edit` with its text on the following lines works, and an edit past the end is fine."""
    actions = tmp_path / "actions.yaml"
    steps = ['open "strategy.py"', "edit 7:29\n    return 0\nend_of_edit", "validate", "submit"]
    actions.write_text(yaml.safe_dump(steps))
    p = rgym(
        "run", "battle-of-sexes", "--actions", str(actions), "--runs-dir", "runs", "-q",
        cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["exit_status"] == "submitted" and result["test_score"] > 1.4
    strategy = (run_dir / "artifact" / "strategy.py").read_text()
    assert strategy.endswith("    return 0\n") and len(strategy.splitlines()) == 7


@requires_bwrap
def test_files_are_restored_as_mlgyms_agent_saw_them(tmp_path):
    """The trajectory's edits name lines of the files its agent saw: lines 8-9 of a strategy.py
    that is not rgym's starter, and line 1 of a notes.py rgym's task lacks (the open file at
    that moment). The replay first writes both back as seen, so each edit lands as it did."""
    notes = view(["x = 1"], "/home/agent/workspace/notes.py")
    steps = [
        "open strategy.py\n",
        "open notes.py\n",
        "edit 1:1\ny = 2\nend_of_edit\n",  # hits notes.py, the open file
        "open strategy.py\n",
        "edit 8:9\n    return 0\nend_of_edit\n",
        "submit\n",
    ]
    run = write_run(
        tmp_path, "battleOfSexes", steps, [1.44], observations={1: view(SEEN), 2: notes}
    )
    p = rgym("run", "battle-of-sexes", "--actions", str(run), "--runs-dir", "runs", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "seen whole before the first edit: strategy.py (step 1), notes.py (step 2)" in p.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    artefact = (run_dir / "artifact" / "strategy.py").read_text()
    assert artefact == "\n".join([*SEEN[:7], "    return 0"]) + "\n"
    result = json.loads((run_dir / "result.json").read_text())
    assert result["test_score"] > 1.4 and result["totals"]["steps"] == 7
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    first = events[[e["type"] for e in events].index("action")]["action"]
    assert first.startswith("cat > strategy.py << 'MLGYM_VIEW'\nimport random\n")
    assert "cat > notes.py << 'MLGYM_VIEW'\nx = 1\nMLGYM_VIEW" in first
    edit = next(e for e in events if e["type"] == "observation" and "y = 2" in e["observation"])
    assert edit["observation"].startswith("[File: /home/agent/workspace/notes.py (1 lines total)]")
    assert any(
        e["type"] == "note" and "strategy.py (9 lines, step 1)" in e["message"] for e in events
    )
