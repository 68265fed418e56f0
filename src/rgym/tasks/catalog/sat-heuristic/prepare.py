"""Random 3-SAT instances near the satisfiability threshold, generated from the task seed.

Each clause has three distinct variables with random signs; a formula over n variables has
round(ratio * n) clauses (ratio 4.26: about half such formulas are satisfiable). Every split
holds, for each size, as many satisfiable as unsatisfiable formulas; the label comes from an
independent CDCL solver (python-sat). The training instances (with labels) are public and drawn
from the task seed; the dev and test instances are private and drawn from `secret_seed` (the
installation's secret key, so nobody can regenerate them from this code; the task seed only in
public-seed mode), independently of the training ones and of each other.
"""

import json
import random
from pathlib import Path


def random_3sat(num_vars: int, num_clauses: int, rng: random.Random) -> list[list[int]]:
    clauses = []
    for _ in range(num_clauses):
        variables = rng.sample(range(1, num_vars + 1), 3)
        clauses.append([v if rng.random() < 0.5 else -v for v in variables])
    return clauses


def satisfiable(clauses: list[list[int]]) -> bool:
    from pysat.solvers import Solver

    with Solver(name="cadical153", bootstrap_with=clauses) as s:
        return bool(s.solve())


def make_split(
    name: str, sizes: list[int], per_size: int, ratio: float, rng: random.Random
) -> list[dict]:
    """`per_size` formulas for each size, half satisfiable and half not."""
    out = []
    for n in sizes:
        want = {True: per_size - per_size // 2, False: per_size // 2}
        got: dict[bool, list] = {True: [], False: []}
        while any(len(got[k]) < want[k] for k in want):
            clauses = random_3sat(n, round(ratio * n), rng)
            sat = satisfiable(clauses)
            if len(got[sat]) < want[sat]:
                got[sat].append(clauses)
        mixed = []
        for i in range(max(want.values())):
            mixed += [(sat, got[sat][i]) for sat in (True, False) if i < len(got[sat])]
        for sat, clauses in mixed:
            out.append(
                {
                    "name": f"{name}-{len(out):03d}-n{n}",
                    "num_vars": n,
                    "num_clauses": len(clauses),
                    "satisfiable": sat,
                    "clauses": clauses,
                }
            )
    return out


def prepare(
    public: Path,
    private: Path,
    *,
    seed: int,
    variant: str,
    secret_seed,
    sizes: list[int],
    train_per_size: int,
    eval_per_size: int,
    ratio: float = 4.26,
    max_decisions: int = 100_000,
    time_limit: float = 150.0,
) -> None:
    rng = random.Random(seed)
    seeds = {split: rng.randrange(2**31) for split in ("train", "dev", "test")}
    for split in ("dev", "test"):  # these decide the scores: never derivable from public code
        seeds[split] = secret_seed(f"{split} instances", seeds[split])
    for split, folder, per_size in (
        ("train", public, train_per_size),
        ("dev", private, eval_per_size),
        ("test", private, eval_per_size),
    ):
        instances = make_split(split, sizes, per_size, ratio, random.Random(seeds[split]))
        (folder / f"{split}.json").write_text(json.dumps(instances))
    (private / "limits.json").write_text(
        json.dumps({"max_decisions": max_decisions, "time_limit": time_limit})
    )
    n_eval = eval_per_size * len(sizes)
    (public / "README.txt").write_text(
        f"train.json: {train_per_size * len(sizes)} random 3-SAT formulas (sizes {sizes} "
        f"variables, clause/variable ratio {ratio}), half satisfiable, each with its label.\n"
        f"validate and the final score each solve {n_eval} other formulas of the same sizes "
        "and mix.\n"
    )
