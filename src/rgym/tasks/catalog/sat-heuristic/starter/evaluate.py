"""Run the DPLL solver with your heuristic on the training formulas, as the grader does.

The grader uses its own copy of solver.py and other formulas (dev for `validate`, test for the
final score), but the same protocol: questions are passed through JSON (so tuples become
lists) and asked in the same order. Run: python evaluate.py [--limit N]
"""

import argparse
import json
import time

from heuristic import heuristic
from solver import Instance, check_model, solve_all


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/train.json")
    p.add_argument("--limit", type=int, default=None, help="only the first N formulas")
    args = p.parse_args()
    formulas = json.load(open(args.data))[: args.limit]
    runs = [Instance(f["name"], f["num_vars"], f["clauses"]) for f in formulas]

    def ask(questions):
        questions = json.loads(json.dumps(questions))
        return json.loads(json.dumps([heuristic(*q) for q in questions]))

    start = time.monotonic()
    solve_all(runs, ask)
    seconds = time.monotonic() - start
    wrong = 0
    for f, r in zip(formulas, runs, strict=True):
        ok = r.satisfiable == f["satisfiable"] and (
            not r.satisfiable or check_model(f["clauses"], r.model)
        )
        wrong += not ok
        print(
            f"{f['name']:>16}  {'SAT' if r.satisfiable else 'UNSAT':5}  "
            f"decisions {r.decisions:6d}  conflicts {r.conflicts:6d}"
            + ("" if ok else "  WRONG VERDICT")
        )
    print(f"total decisions {sum(r.decisions for r in runs)}  seconds {seconds:.2f}  wrong {wrong}")


if __name__ == "__main__":
    main()
