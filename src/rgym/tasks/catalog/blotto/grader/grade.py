"""Colonel Blotto grader: plays the agent's row_strategy against the hidden column player.

The grader owns the game loop and the opponent; it asks the agent's code (in its own sandbox)
only for allocations, one batch per round across all simulated games, and validates each one.
"""

import json
import random

import rgym_grade
from opponent import FIELDS, SOLDIERS, column_move
from rgym_grade import Invalid


def check_allocation(alloc, game: int, round_: int) -> list[int]:
    where = f"in game {game}, round {round_ + 1}"
    if not isinstance(alloc, list):
        raise Invalid(
            f"row_strategy returned {alloc!r} ({type(alloc).__name__}) {where}; it "
            f"must return a list of {FIELDS} non-negative integers summing to at most "
            f"{SOLDIERS}"
        )
    if len(alloc) != FIELDS:
        raise Invalid(
            f"row_strategy returned {len(alloc)} numbers {where} ({alloc!r}); it must "
            f"return exactly {FIELDS}, one per battlefield"
        )
    for i, x in enumerate(alloc):
        if isinstance(x, bool) or not isinstance(x, int):
            raise Invalid(
                f"row_strategy put {x!r} ({type(x).__name__}) on battlefield {i} "
                f"{where}; every entry must be an integer"
            )
        if x < 0:
            raise Invalid(
                f"row_strategy put {x} soldiers on battlefield {i} {where}; "
                "every entry must be 0 or more"
            )
    if sum(alloc) > SOLDIERS:
        raise Invalid(
            f"row_strategy allocated {sum(alloc)} soldiers {where} ({alloc}); the "
            f"total must be at most {SOLDIERS}"
        )
    return alloc


def payoff(row: list[int], col: list[int]) -> int:
    """+1 if the row player wins more battlefields, -1 if fewer, 0 on a tie."""
    won = sum(r > c for r, c in zip(row, col, strict=True))
    lost = sum(r < c for r, c in zip(row, col, strict=True))
    return (won > lost) - (won < lost)


def main(args):
    sim = json.loads((args.private / "simulation.json").read_text())
    n, rounds = sim["simulations"], sim["rounds"]
    rng = random.Random(sim["seeds"][args.split])
    strategy = rgym_grade.remote_function("row_strategy")
    check_allocation(strategy([], timeout=5.0), 0, 0)  # a stuck strategy fails fast
    histories: list[list[tuple[list[int], list[int]]]] = [[] for _ in range(n)]
    totals = [0.0] * n
    for r in range(rounds):
        row_moves = strategy.map(
            [[h] for h in histories], timeout_per_call=0.005, tuples_at_depth=2
        )
        for g, (h, move) in enumerate(zip(histories, row_moves, strict=True)):
            row = check_allocation(move, g, r)
            col = column_move(h, rng)
            totals[g] += payoff(row, col)
            h.append((row, col))
    score = sum(t / rounds for t in totals) / n
    return {"Score": score}


if __name__ == "__main__":
    rgym_grade.run(main)
