"""Colonel Blotto needs no dataset: the simulation seeds are the private data.

Dev and test use different seeds, drawn from the task seed; only the grader sees them.
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
    simulations: int = 10000,
    rounds: int = 10,
) -> None:
    rng = random.Random(seed)
    seeds = {"dev": rng.randrange(2**31), "test": rng.randrange(2**31)}
    (private / "simulation.json").write_text(
        json.dumps({"seeds": seeds, "simulations": simulations, "rounds": rounds})
    )
    (public / "README.txt").write_text(
        f"Each evaluation plays {simulations} games of {rounds} rounds against the column player.\n"
    )
