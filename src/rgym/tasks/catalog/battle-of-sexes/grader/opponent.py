"""The column player. It lives only here: never in the agent's workspace or sandbox.

It opens with 1; afterwards it looks only at the row player's *first* move and copies it with
probability 0.8 (MLGym's target strategy, reproduced from its published behaviour).
"""


def column_move(history: list[tuple[int, int]], rng) -> int:
    if not history:
        return 1
    first_row_move = history[0][0]
    if rng.random() < 0.8:
        return first_row_move
    return 1 - first_row_move
