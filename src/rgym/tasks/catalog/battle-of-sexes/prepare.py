"""Battle of the Sexes needs no dataset: the simulation seeds are the private data.

Dev and test use different simulation seeds; only the grader sees them. They decide the
opponent's randomness, so they come from `secret_seed` (the installation's secret key; the
task seed only in public-seed mode, where every number is exactly reproducible).
"""

import json
import random
from pathlib import Path


def prepare(
    public: Path,
    private: Path,
    *,
    seed: int,
    variant: str,
    secret_seed,
    simulations: int = 10000,
    rounds: int = 10,
) -> None:
    rng = random.Random(seed)
    by_task_seed = {"dev": rng.randrange(2**31), "test": rng.randrange(2**31)}
    seeds = {split: secret_seed(f"{split} simulations", s) for split, s in by_task_seed.items()}
    (private / "simulation.json").write_text(
        json.dumps({"seeds": seeds, "simulations": simulations, "rounds": rounds})
    )
    (public / "README.txt").write_text(
        f"Each evaluation plays {simulations} games of {rounds} rounds against the column player.\n"
    )
