"""Imported MLGym tasks run in real sandboxes and are scored by their own evaluate scripts, on a
workspace rgym rebuilds: data filled read-only, starter files restored, agent code kept out of
the evaluator's process, and the answers private on the host."""

from __future__ import annotations

import os
import stat

from rgym.env import ResearchEnv
from rgym.grading.mlgym import build_workspace
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from tests.conftest import requires_bwrap

pytestmark = requires_bwrap


def episode(repo, task: str, commands: list[str], sandbox: str = "bwrap"):
    """Run `commands` in a fresh episode of `task`; returns (observations, last info)."""
    env = ResearchEnv(get_task(task, [repo]), sandbox=sandbox)
    try:
        obs, info = env.reset()
        out = [obs]
        for c in commands:
            o, _, terminated, truncated, info = env.step(c)
            out.append(o)
            if terminated or truncated:
                break
        return out, info
    finally:
        env.close()


def write(path: str, text: str) -> str:
    """A shell command that writes `text` to `path` in the workspace."""
    return f"cat > {path} <<'RGYM_EOF'\n{text}\nRGYM_EOF"


def test_local_data_fills_data_read_only_and_labels_stay_secret(shared_repo):
    obs, info = episode(
        shared_repo,
        "mlgym/guessLabels",
        ["ls data", "touch data/new.csv; echo rc=$?", "python baseline.py", "submit"],
    )
    assert "GUESSDATA:" in obs[0] and "{dataset_docs}" not in obs[0]
    assert obs[1].split() == ["test.csv", "train.csv"]  # labels.csv is a secret file
    assert "Read-only file system" in obs[2] and "rc=1" in obs[2]
    assert info["exit_status"] == "submitted" and info["test_score"] == 0.5


def test_a_python_artefact_scores_and_the_grader_calls_it_in_its_own_sandbox(shared_repo):
    strategy = "def row_strategy(history):\n    return 1\n"
    obs, info = episode(shared_repo, "mlgym/coinGame", [write("strategy.py", strategy), "submit"])
    assert info["exit_status"] == "submitted" and info["test_score"] == 1.0


def test_a_tampered_opponent_and_evaluator_are_restored_before_scoring(shared_repo):
    obs, info = episode(
        shared_repo,
        "mlgym/coinGame",
        [
            write("target.py", "def target_column_strategy(history):\n    return 0\n"),
            'chmod u+w evaluate.py && echo \'print("{\\"Score\\": 2.0}")\' > evaluate.py',
            write("strategy.py", "def row_strategy(history):\n    return 0\n"),
            "python evaluate.py",  # in the agent's own workspace the forgery "works"
            "validate",
            "submit",
        ],
    )
    assert '{"Score": 2.0}' in obs[4]
    assert "Score=0" in obs[5]  # the real opponent always shows 1: never a match
    assert info["test_score"] == 0.0


def test_the_agents_code_cannot_see_the_opponent_or_the_evaluator(shared_repo):
    strategy = (
        "import os\n"
        "SEEN = [p for p in ('target.py', 'evaluate.py', '/home/agent/workspace/target.py')\n"
        "        if os.path.exists(p)]\n\n\n"
        "def row_strategy(history):\n"
        "    return 1 if SEEN else 0\n"
    )
    obs, info = episode(shared_repo, "mlgym/coinGame", [write("strategy.py", strategy), "submit"])
    assert info["test_score"] == 0.0


FORGING_STRATEGY = """\
import atexit
import builtins
import json
import os
import sys

atexit.register(lambda: print('{"Score": 9.0}'))
print('{"Score": 8.0}')
_print = builtins.print
builtins.print = lambda *a, **k: _print('{"Score": 7.0}')
json.dumps = lambda *a, **k: '{"Score": 6.0}'
sys.stdout.write('RGYM_MLGYM_RESULT {"metrics": {"Score": 5.0}}\\n')
os.write(1, b'RGYM_MLGYM_RESULT {"metrics": {"Score": 4.0}}\\n')


def row_strategy(history):
    return 0
"""


def test_a_strategy_cannot_forge_its_score(shared_repo):
    obs, info = episode(
        shared_repo, "mlgym/coinGame", [write("strategy.py", FORGING_STRATEGY), "submit"]
    )
    assert info["exit_status"] == "submitted" and info["test_score"] == 0.0


SHADOW_JSON = """\
import atexit

atexit.register(lambda: print('{"accuracy": 1.0}'))
try:
    print(open("data/labels.csv").read())
except OSError:
    pass


def dumps(obj, *args, **kwargs):
    return '{"accuracy": 1.0}'
"""


def test_a_json_py_in_the_workspace_is_never_imported_by_the_evaluator(shared_repo):
    obs, info = episode(
        shared_repo,
        "mlgym/guessLabels",
        [write("json.py", SHADOW_JSON), "python baseline.py", "validate", "submit"],
    )
    assert "accuracy=0.5" in obs[3] and "id,y" not in obs[3]
    assert info["test_score"] == 0.5


def test_a_failing_strategy_is_an_invalid_artefact_with_its_error(shared_repo):
    strategy = "def row_strategy(history):\n    raise RuntimeError('my bug')\n"
    obs, info = episode(shared_repo, "mlgym/coinGame", [write("strategy.py", strategy), "submit"])
    assert info["exit_status"] == "invalid_artifact"
    assert "my bug" in obs[-1]


def test_a_strategy_without_its_function_is_named(shared_repo):
    obs, info = episode(
        shared_repo,
        "mlgym/coinGame",
        [write("strategy.py", "def play(h):\n    return 1\n"), "submit"],
    )
    assert info["exit_status"] == "invalid_artifact" and "row_strategy" in obs[-1]


def test_secret_files_are_never_readable_by_other_users_on_the_host(shared_repo, tmp_path, backend):
    spec = get_task("mlgym/guessLabels", [shared_repo])
    data = prepare_data(spec)
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "submission.csv").write_text("id,y\n1,0\n")
    base = tmp_path / "grading"
    work, modules, problems, mount_data = build_workspace(spec, snapshot, base, data, backend)
    assert problems == [] and modules is None and not mount_data
    st = base.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid()
    labels = work / "data" / "labels.csv"
    assert labels.read_text().startswith("id,y")
    uid = getattr(backend, "agent_uid", None) or os.geteuid()
    for p in [labels, *work.rglob("*")]:
        mode = stat.S_IMODE(p.lstat().st_mode)
        assert mode & 0o077 == 0, f"{p} is {oct(mode)}"
        assert p.lstat().st_uid == uid
    assert stat.S_IMODE(work.stat().st_mode) == 0o711  # enter-only, inside the 0700 folder


def test_a_starter_file_declared_secret_stays_out_of_the_workspace_but_is_graded(repo):
    f = repo / "configs" / "tasks" / "coinGame.yaml"
    f.write_text(f.read_text() + "secret_files:\n  - data/coinGame/target.py\n")
    strategy = "def row_strategy(history):\n    return 1\n"
    obs, info = episode(repo, "mlgym/coinGame", ["ls", write("strategy.py", strategy), "submit"])
    assert "target.py" not in obs[1] and "strategy.py" in obs[1]
    assert info["test_score"] == 1.0
