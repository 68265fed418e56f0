"""Reference row player: always 0.

The column player copies your first move with probability 0.8 for the rest of the game, so
committing to 0 (your preferred outcome) from round one locks in the (0, 0) → 2 payoff most of
the time: (0 + 9 × 0.8 × 2) / 10 ≈ 1.44 per round.
"""


def row_strategy(history: list[tuple[int, int]]) -> int:
    return 0
