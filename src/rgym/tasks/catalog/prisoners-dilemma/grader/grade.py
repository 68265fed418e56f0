"""Iterated Prisoner's Dilemma grader: plays the agent's row_strategy against the hidden column
player.

The grader owns the game loop and the opponent; it asks the agent's code (in its own sandbox)
only for moves, one batch per round across all simulated games, and validates every move.
"""

import json
import random

import rgym_grade
from opponent import column_move
from rgym_grade import Invalid

# (row move, column move) -> (row payoff, column payoff); 0 = cooperate, 1 = defect
PAYOFF = {(0, 0): (3, 3), (0, 1): (0, 5), (1, 0): (5, 0), (1, 1): (1, 1)}


def check_move(move, game: int, round_: int) -> int:
    if isinstance(move, bool) or not isinstance(move, int) or move not in (0, 1):
        raise Invalid(
            f"row_strategy returned {move!r} ({type(move).__name__}) in game {game}, "
            f"round {round_ + 1}; it must return the integer 0 (cooperate) or 1 "
            "(defect)"
        )
    return int(move)


def main(args):
    sim = json.loads((args.private / "simulation.json").read_text())
    n, rounds = sim["simulations"], sim["rounds"]
    rng = random.Random(sim["seeds"][args.split])
    strategy = rgym_grade.remote_function("row_strategy")
    check_move(strategy([], timeout=5.0), 0, 0)  # one quick call first: a stuck strategy fails fast
    histories: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    totals = [0.0] * n
    for r in range(rounds):
        row_moves = strategy.map(
            [[h] for h in histories], timeout_per_call=0.005, tuples_at_depth=2
        )
        for g, (h, move) in enumerate(zip(histories, row_moves, strict=True)):
            row = check_move(move, g, r)
            col = column_move(h, rng)
            totals[g] += PAYOFF[(row, col)][0]
            h.append((row, col))
    score = sum(t / rounds for t in totals) / n
    return {"Score": score}


if __name__ == "__main__":
    rgym_grade.run(main)
