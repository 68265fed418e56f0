"""sat-heuristic: rgym's DPLL solver in the grader asks the agent's heuristic for decisions.

Real graders and sandboxes on the `tiny` variant (a few 20-variable formulas per split), plus
in-process checks of the solver and of the grader's verdict check.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys

import pytest

import rgym
from rgym.grading.runner import INSIDE, GradeStatus
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from rgym.tasks.verify import verify_task
from tests.tasks.conftest import requires_bwrap, task_file

TASK = "sat-heuristic"
ROOT = get_task(TASK).root


def heuristic(body: str) -> dict[str, str]:
    return {"heuristic.py": body}


def load_module(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def solver():
    return load_module("rgym_test_sat_solver", ROOT / "grader" / "solver.py")


def random_3sat(n, m, rng):
    return [
        [v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 3)] for _ in range(m)
    ]


# --- the solver, in-process -------------------------------------------------------------------


def test_starter_copy_of_the_solver_is_the_graders():
    starter, grader = ROOT / "starter" / "solver.py", ROOT / "grader" / "solver.py"
    assert starter.read_bytes() == grader.read_bytes()


def test_solver_verdicts_and_models_agree_with_an_independent_solver(solver):
    from pysat.solvers import Solver

    ref = load_module("rgym_test_sat_ref", ROOT / "reference" / "heuristic.py").heuristic
    rng = random.Random(1)
    formulas = [random_3sat(n, round(4.26 * n), rng) for n in (10, 15, 20) for _ in range(10)]
    formulas += [[[1], [-1, 2], [-2]], [[1, 2], [-1], [-2, 3]], []]  # root conflicts, units, empty
    runs = [solver.Instance(f"f{i}", 20, f) for i, f in enumerate(formulas)]
    solver.solve_all(runs, lambda qs: [ref(*q) for q in json.loads(json.dumps(qs))])
    for f, r in zip(formulas, runs, strict=True):
        with Solver(name="cadical153", bootstrap_with=f) as s:
            assert r.satisfiable == s.solve()
        if r.satisfiable:
            assert solver.check_model(f, r.model)
    assert {r.satisfiable for r in runs} == {True, False}


def test_decision_limit_and_bad_answers_raise(solver):
    rng = random.Random(3)
    f = random_3sat(30, 128, rng)
    with pytest.raises(solver.DecisionLimit, match="more than 2 decisions"):
        solver.solve_all(
            [solver.Instance("f", 30, f, max_decisions=2)],
            lambda qs: [(min(v for v in range(1, 31) if q[1][v] is None), True) for q in qs],
        )
    inst = solver.Instance("g", 30, f)
    for reply, msg in [
        (5, "pair"),
        ((0, True), "does not exist"),
        ((31, True), "does not exist"),
        (("3", True), "must be an int"),
        ((3, 1), "True or False"),
        ((3, True, 1), "pair"),
    ]:
        with pytest.raises(solver.BadDecision, match=msg):
            inst.answer(reply)


def test_grader_rejects_a_wrong_verdict_naming_the_instance(monkeypatch, rgym_cache):
    """The grader re-checks every verdict with python-sat; one disagreement is invalid."""
    spec = get_task(TASK)
    data = prepare_data(spec, "tiny")
    monkeypatch.syspath_prepend(str(INSIDE))
    monkeypatch.syspath_prepend(str(ROOT / "grader"))
    monkeypatch.delitem(sys.modules, "solver", raising=False)
    grade = load_module("rgym_test_sat_grade", ROOT / "grader" / "grade.py")
    ref = load_module("rgym_test_sat_ref2", ROOT / "reference" / "heuristic.py").heuristic

    class Local:
        def map(self, calls, timeout_per_call=1.0):
            return [list(ref(*c)) for c in json.loads(json.dumps(calls))]

    monkeypatch.setattr(grade.rgym_grade, "remote_function", lambda name: Local())
    args = argparse.Namespace(split="dev", private=data.private, public=data.public)
    metrics = grade.main(args)
    assert metrics["correct"] == metrics["instances"] > 0
    first = json.loads((data.private / "dev.json").read_text())[0]["name"]
    truth = grade.independent_verdict
    monkeypatch.setattr(grade, "independent_verdict", lambda clauses: not truth(clauses))
    with pytest.raises(grade.Invalid, match=f"wrong verdict on instance {first}"):
        grade.main(args)


# --- through the real grader --------------------------------------------------------------------


@requires_bwrap
def test_reference_beats_baseline_and_baseline_decisions_reproduce():
    spec = get_task(TASK)
    row = verify_task(spec, "tiny", seed_mode="public")  # the formulas task.yaml measured on
    assert row.ok, row.problems
    assert row.reference.score < row.baseline.score
    assert row.baseline.score == spec.baseline_score("tiny")  # deterministic, exactly
    secret = verify_task(spec, "tiny")  # this installation's own formulas
    assert secret.ok, secret.problems
    assert secret.reference.score < secret.baseline.score


@requires_bwrap
def test_same_heuristic_same_decisions(grade_files):
    for body in (
        task_file(TASK, "starter/heuristic.py"),
        # the module-level `random` is seeded by the grader's sandbox
        "import random\ndef heuristic(c, a, n, k, l):\n"
        "    return random.choice([v for v in range(1, n + 1) if a[v] is None]), "
        "random.random() < 0.5\n",
    ):
        first, again = grade_files(TASK, heuristic(body)), grade_files(TASK, heuristic(body))
        assert first.ok, first.message
        assert first.score == again.score
        assert first.metrics["correct"] == first.metrics["instances"]


FIRST_FREE = "min(v for v in range(1, n + 1) if a[v] is None)"


@requires_bwrap
@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (
            "def heuristic(c, a, n, k, l):\n    return 1, True\n",
            GradeStatus.invalid_artifact,
            "already assigned",
        ),
        (
            "def heuristic(c, a, n, k, l):\n    return 0, True\n",
            GradeStatus.invalid_artifact,
            "does not exist",
        ),
        (
            "def heuristic(c, a, n, k, l):\n    return n + 1, True\n",
            GradeStatus.invalid_artifact,
            "does not exist",
        ),
        (
            f"def heuristic(c, a, n, k, l):\n    return {FIRST_FREE}, 1\n",
            GradeStatus.invalid_artifact,
            "must be True or False",
        ),
        (
            f"def heuristic(c, a, n, k, l):\n    return str({FIRST_FREE}), True\n",
            GradeStatus.invalid_artifact,
            "must be an int",
        ),
        (
            f"def heuristic(c, a, n, k, l):\n    return {FIRST_FREE}\n",
            GradeStatus.invalid_artifact,
            "pair",
        ),
        ("def heuristic(c, a, n, k, l):\n    return None\n", GradeStatus.invalid_artifact, "pair"),
        (
            "def heuristic(c, a, n, k, l):\n    raise ValueError('no idea')\n",
            GradeStatus.invalid_artifact,
            "no idea",
        ),
        (
            "def heuristic(clauses, assignment):\n    return 1, True\n",
            GradeStatus.invalid_artifact,
            "TypeError",
        ),
        (
            "from solver import Instance\ndef heuristic(c, a, n, k, l):\n    return 1, True\n",
            GradeStatus.invalid_artifact,
            "solver",
        ),
        (
            "def heuristic(c, a, n, k, l):\n"
            "    return len(open('/private/dev.json').read()), True\n",
            GradeStatus.invalid_artifact,
            "/private/dev.json",
        ),
        ("", GradeStatus.invalid_artifact, "empty"),
        ("def choose(c):\n    return 1, True\n", GradeStatus.invalid_artifact, "heuristic"),
        (None, GradeStatus.no_artifact, "heuristic.py"),
    ],
    ids=[
        "assigned",
        "zero",
        "too-large",
        "int-value",
        "str-variable",
        "not-a-pair",
        "none",
        "raises",
        "wrong-signature",
        "imports-solver",
        "reads-private",
        "empty",
        "no-function",
        "missing",
    ],
)
def test_bad_heuristics_get_a_typed_outcome(body, status, needle, grade_files):
    g = grade_files(TASK, {} if body is None else heuristic(body))
    assert g.status == status, g.message
    assert needle in g.message
    if "decision" in g.message:
        assert "instance" in g.message  # names the formula


@requires_bwrap
def test_a_heuristic_that_is_too_slow_is_invalid(grade_files):
    # quick on the first call (which has a 5 s limit), then far too slow for a batch
    body = (
        "import time\n"
        "calls = []\n"
        "def heuristic(c, a, n, k, l):\n"
        "    calls.append(1)\n"
        "    if len(calls) > 1:\n"
        "        time.sleep(10)\n"
        f"    return {FIRST_FREE}, True\n"
    )
    g = grade_files(TASK, heuristic(body))
    assert g.status == GradeStatus.invalid_artifact, g.message
    assert "did not answer" in g.message


@requires_bwrap
def test_workspace_edits_other_than_the_heuristic_cannot_change_the_score(grade_files):
    honest = grade_files(TASK, heuristic(task_file(TASK, "starter/heuristic.py")))
    env = rgym.make(TASK, variant="tiny")
    try:
        env.reset(seed=0)
        # a solver that claims zero decisions, and a fake grader, next to the honest heuristic
        env.step(
            "cat > solver.py <<'PY'\n"
            "class Instance:\n"
            "    decisions = 0\n"
            "def solve_all(instances, ask):\n    return instances\n"
            "PY\n"
            "mkdir -p grader && cp solver.py grader/ && "
            'echo \'print("RGYM_RESULT {\\"metrics\\": {\\"decisions\\": 0}}")\' '
            "> grader/grade.py && cp grader/grade.py rgym_grade.py"
        )
        obs = env.step("echo '[]' > data/train.json")[0]
        assert "Read-only" in obs
        env.step("validate")
        assert env.dev_scores == [honest.score]
        assert honest.score > 0
    finally:
        env.close()
