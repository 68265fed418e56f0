"""3-SAT heuristic grader: rgym's DPLL solver asks the agent's heuristic for every decision.

The solver loop, the instances and the verdict check all live here; the agent's heuristic runs
in a sandbox of its own and is only asked `heuristic(clauses, assignment, num_vars, conflicts,
level)` questions, in batches (one question from each unfinished instance per round). Every
verdict is checked against an independent CDCL solver (python-sat) and every model against the
formula. Score: total decisions over the split's instances (lower is better).
"""

import json
import time

import rgym_grade
from rgym_grade import Invalid
from solver import BadDecision, DecisionLimit, Instance, check_model, solve_all

PER_CALL_TIMEOUT = 0.1
"""Seconds one heuristic call may take on average within a batch."""


def independent_verdict(clauses) -> bool:
    from pysat.solvers import Solver

    with Solver(name="cadical153", bootstrap_with=clauses) as s:
        return bool(s.solve())


def main(args):
    instances = json.loads((args.private / f"{args.split}.json").read_text())
    limits = json.loads((args.private / "limits.json").read_text())
    time_limit, max_decisions = limits["time_limit"], limits["max_decisions"]
    heuristic = rgym_grade.remote_function("heuristic")
    runs = [
        Instance(i["name"], i["num_vars"], i["clauses"], max_decisions=max_decisions)
        for i in instances
    ]
    start = time.monotonic()
    in_heuristic = 0.0
    first = True

    def ask(questions):
        nonlocal first, in_heuristic
        elapsed = time.monotonic() - start
        if elapsed > time_limit:
            done = sum(r.decisions for r in runs)
            raise Invalid(
                f"the solver had not finished after {time_limit:g} s ({done} decisions "
                f"so far, {sum(not r.done for r in runs)} of {len(runs)} instances "
                "unsolved); the heuristic is too slow or makes far too many decisions"
            )
        t = time.monotonic()
        if first:  # one call on its own first: a stuck heuristic fails fast
            first = False
            answers = heuristic.map(questions[:1], timeout_per_call=5.0)
            answers += heuristic.map(questions[1:], timeout_per_call=PER_CALL_TIMEOUT)
        else:
            answers = heuristic.map(questions, timeout_per_call=PER_CALL_TIMEOUT)
        in_heuristic += time.monotonic() - t
        return answers

    try:
        solve_all(runs, ask)
    except (BadDecision, DecisionLimit) as e:
        raise Invalid(str(e)) from None
    seconds = time.monotonic() - start
    for inst, run in zip(instances, runs, strict=True):
        truth = independent_verdict(inst["clauses"])
        if run.satisfiable != truth:
            raise Invalid(
                f"wrong verdict on instance {inst['name']}: the solver answered "
                f"{'SAT' if run.satisfiable else 'UNSAT'}, an independent solver says "
                f"{'SAT' if truth else 'UNSAT'}"
            )
        if truth and not check_model(inst["clauses"], run.model):
            raise Invalid(
                f"wrong verdict on instance {inst['name']}: the model found does not "
                "satisfy every clause"
            )
    return {
        "decisions": sum(r.decisions for r in runs),
        "seconds": round(seconds, 3),
        "heuristic_seconds": round(in_heuristic, 3),
        "conflicts": sum(r.conflicts for r in runs),
        "correct": len(runs),
        "instances": len(runs),
    }


if __name__ == "__main__":
    rgym_grade.run(main)
