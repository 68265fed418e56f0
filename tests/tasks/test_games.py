"""prisoners-dilemma and blotto: real graders, real sandboxes, the `tiny` variants (200 games).

The opponent lives in the grader; the agent's strategy runs alone in a sandbox of its own and is
only asked for moves. Every way a strategy can fail is a typed outcome with a message.
"""

from __future__ import annotations

import pytest

import rgym
from rgym.grading.runner import GradeStatus
from rgym.tasks.registry import get_task
from rgym.tasks.verify import verify_task
from tests.tasks.conftest import requires_bwrap, task_file

pytestmark = requires_bwrap

GAMES = ["prisoners-dilemma", "blotto"]


def strategy(body: str) -> dict[str, str]:
    return {"strategy.py": body}


@pytest.mark.parametrize("task", GAMES)
def test_reference_beats_baseline_and_baseline_reproduces(task):
    # public seeds: the games task.yaml's numbers were measured on, so they reproduce exactly
    row = verify_task(get_task(task), "tiny", seed_mode="public")
    assert row.ok, row.problems
    assert row.reference.score > row.baseline.score
    assert row.baseline.score == pytest.approx(get_task(task).baseline_score("tiny"), abs=1e-4)


@pytest.mark.parametrize("task", GAMES)
def test_reference_beats_baseline_on_this_installations_secret_games(task):
    row = verify_task(get_task(task), "tiny")
    assert row.ok, row.problems
    assert row.seed_mode == "secret"
    assert row.reference.score > row.baseline.score


@pytest.mark.parametrize("task", GAMES)
def test_same_seed_same_score_and_dev_differs_from_test(task, grade_files):
    files = strategy(task_file(task, "starter/strategy.py"))
    first, again = grade_files(task, files), grade_files(task, files)
    assert first.ok and again.ok, (first.message, again.message)
    assert first.score == again.score
    test = grade_files(task, files, split="test")
    assert test.ok and test.score != first.score  # dev seeds are not the test seeds


@pytest.mark.parametrize("task", GAMES)
@pytest.mark.parametrize(
    ("files", "status", "needle"),
    [
        ({}, GradeStatus.no_artifact, "No strategy.py"),
        (strategy(""), GradeStatus.invalid_artifact, "empty"),
        (strategy("def row_strategy(history:\n"), GradeStatus.invalid_artifact, "not valid Python"),
        (
            strategy("def play(history):\n    return 0\n"),
            GradeStatus.invalid_artifact,
            "row_strategy",
        ),
        (
            strategy("def row_strategy(history):\n    raise RuntimeError('boom')\n"),
            GradeStatus.invalid_artifact,
            "boom",
        ),
        (
            strategy("import sys\ndef row_strategy(history):\n    sys.exit(3)\n"),
            GradeStatus.invalid_artifact,
            "SystemExit",
        ),
        (
            strategy("import os\ndef row_strategy(history):\n    os._exit(3)\n"),
            GradeStatus.invalid_artifact,
            "exited",
        ),
        (strategy("row_strategy = 5\n"), GradeStatus.invalid_artifact, "not a function"),
    ],
    ids=[
        "missing",
        "empty",
        "syntax",
        "no-function",
        "raises",
        "sys-exit",
        "os-exit",
        "not-callable",
    ],
)
def test_broken_strategies_get_a_typed_outcome(task, files, status, needle, grade_files):
    g = grade_files(task, files)
    assert g.status == status, g.message
    assert needle in g.message


@pytest.mark.parametrize("task", GAMES)
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("import opponent\ndef row_strategy(history):\n    return 0\n", "opponent"),
        (
            "from target import target_column_strategy\ndef row_strategy(history):\n    return 0\n",
            "target",
        ),
        (
            "def row_strategy(history):\n    return len(open('/grader/opponent.py').read())\n",
            "/grader/opponent.py",
        ),
        (
            "def row_strategy(history):\n    return len(open('/private/simulation.json').read())\n",
            "/private/simulation.json",
        ),
    ],
    ids=["import-opponent", "import-target", "read-opponent", "read-seeds"],
)
def test_strategy_cannot_reach_the_opponent_or_the_seeds(task, body, needle, grade_files):
    g = grade_files(task, strategy(body))
    assert g.status == GradeStatus.invalid_artifact, g.message
    assert needle in g.message
    assert "Error" in g.message  # ModuleNotFoundError / FileNotFoundError, shown to the agent


@pytest.mark.parametrize(
    ("task", "ret", "needle"),
    [
        ("prisoners-dilemma", "'defect'", "must return the integer 0"),
        ("prisoners-dilemma", "2", "must return the integer 0"),
        ("prisoners-dilemma", "True", "must return the integer 0"),
        ("prisoners-dilemma", "1.0", "must return the integer 0"),
        ("prisoners-dilemma", "None", "must return the integer 0"),
        ("prisoners-dilemma", "object()", "not plain data"),
        ("blotto", "None", "must return a list of 6"),
        ("blotto", "[24, 24, 24, 24, 24]", "exactly 6"),
        ("blotto", "[20, 20, 20, 20, 20, 20, 0]", "exactly 6"),
        ("blotto", "[-1, 41, 20, 20, 20, 20]", "0 or more"),
        ("blotto", "[21, 21, 21, 21, 21, 21]", "allocated 126 soldiers"),
        ("blotto", "[20.0, 20, 20, 20, 20, 20]", "must be an integer"),
        ("blotto", "[True, 20, 20, 20, 20, 20]", "must be an integer"),
        ("blotto", "'20,20,20,20,20,20'", "must return a list of 6"),
    ],
)
def test_garbage_moves_are_invalid_with_a_message(task, ret, needle, grade_files):
    g = grade_files(task, strategy(f"def row_strategy(history):\n    return {ret}\n"))
    assert g.status == GradeStatus.invalid_artifact, g.message
    assert needle in g.message
    assert "round" in g.message or "plain data" in g.message  # says where it happened


def test_a_move_that_goes_wrong_later_is_reported_with_its_round(grade_files):
    body = "def row_strategy(history):\n    return 1 if len(history) < 3 else 7\n"
    g = grade_files("prisoners-dilemma", strategy(body))
    assert g.status == GradeStatus.invalid_artifact
    assert "returned 7" in g.message and "round 4" in g.message


def test_numpy_answers_and_tuples_are_accepted(grade_files):
    body = (
        "import numpy as np\n"
        "def row_strategy(history):\n"
        "    return tuple(np.array([30, 30, 30, 30, 0, 0]))\n"
    )
    g = grade_files("blotto", strategy(body))
    assert g.ok, g.message
    assert g.score > 0


def test_prints_do_not_corrupt_the_game(grade_files):
    body = (
        "def row_strategy(history):\n"
        '    print(\'RGYM_RESULT {"metrics": {"Score": 99}}\')\n'
        "    return 1\n"
    )
    g = grade_files("prisoners-dilemma", strategy(body))
    assert g.ok, g.message
    assert g.score < 5


@pytest.mark.parametrize(
    "task", ["prisoners-dilemma", pytest.param("blotto", marks=pytest.mark.slow)]
)
def test_a_strategy_that_sleeps_past_its_limit_is_invalid(task, grade_files):
    # quick on the first call (which has a 5 s limit), then too slow for the per-round batch
    move = "[20] * 6" if task == "blotto" else "0"
    body = (
        "import time\n"
        "def row_strategy(history):\n"
        "    if history:\n"
        "        time.sleep(30)\n"
        f"    return {move}\n"
    )
    g = grade_files(task, strategy(body))
    assert g.status == GradeStatus.invalid_artifact, g.message
    assert "did not answer" in g.message


@pytest.mark.slow
def test_a_strategy_stuck_on_its_first_call_fails_fast(grade_files):
    body = "import time\ndef row_strategy(history):\n    time.sleep(60)\n    return 0\n"
    g = grade_files("prisoners-dilemma", strategy(body))
    assert g.status == GradeStatus.invalid_artifact, g.message
    assert "did not answer" in g.message
    assert g.seconds < 30


@pytest.mark.parametrize("task", GAMES)
def test_workspace_files_other_than_the_strategy_cannot_change_the_score(task, grade_files):
    honest = grade_files(task, strategy(task_file(task, "starter/strategy.py")))
    env = rgym.make(task, variant="tiny")
    try:
        env.reset(seed=0)
        env.step(
            "cat > opponent.py <<'PY'\n"
            "def column_move(history, rng):\n    return 0\n"
            "def target_column_strategy(history):\n    return 0\n"
            "PY\ncp opponent.py target.py"
        )
        obs = env.step(
            "mkdir -p grader && cp opponent.py grader/ && "
            'echo \'print("RGYM_RESULT {\\"metrics\\": {\\"Score\\": 9}}")\' '
            "> grader/grade.py && cp grader/grade.py rgym_grade.py && "
            "echo hacked > data/README.txt"
        )[0]
        assert "Read-only" in obs  # data/ cannot be written
        env.step("validate")
        assert env.dev_scores == [honest.score]
        # a strategy that relies on the planted opponent module fails: only strategy.py is graded
        env.step(
            "printf 'from opponent import column_move\\n"
            "def row_strategy(h):\\n    return 0\\n' > strategy.py"
        )
        obs = env.step("validate")[0]
        assert "invalid_artifact" in obs and "opponent" in obs
        info = env.step("submit")[4]
        assert info["exit_status"] == "invalid_artifact"
        assert "opponent" in env.test_grade.message
    finally:
        env.close()
