"""The column player. It lives only here: never in the agent's workspace or sandbox.

Each round it picks one of eleven classic strategies uniformly at random and plays that
strategy's move for the round (MLGym's prisonersDilemma target, reproduced from its published
behaviour). Moves: 0 = cooperate, 1 = defect. `history` holds (row move, column move) pairs of
the earlier rounds; "own" below means the column player's moves.
"""


def _noisy(h, rng):
    if not h:
        return 1
    r = rng.random()
    if r < 0.3333:
        return 0
    if r < 0.5:
        return 1
    if r < 0.9:
        return h[-1][1]  # repeat its own last move
    return 1 - h[-1][0]  # the opposite of the row player's last move


def _tit_for_tat(h, rng):
    return h[-1][0] if h else 0


def _always_cooperate(h, rng):
    return 0


def _always_defect(h, rng):
    return 1


def _random(h, rng):
    return rng.randint(0, 1)


def _grim_trigger(h, rng):
    return 1 if any(row == 1 for row, _ in h) else 0


def _pavlov(h, rng):
    if not h:
        return 0
    return 0 if h[-1][0] == h[-1][1] else 1


def _tit_for_two_tats(h, rng):
    return 1 if len(h) >= 2 and h[-1][0] == 1 and h[-2][0] == 1 else 0


def _suspicious_tit_for_tat(h, rng):
    return h[-1][0] if h else 1


def _coin_flip(h, rng):
    return 0 if rng.random() < 0.5 else 1


def _forgiving_tit_for_tat(h, rng):
    if not h:
        return 0
    if len(h) >= 2 and h[-1][0] == 1 and h[-2][0] == 1:
        return 0
    return h[-1][0]


STRATEGIES = [
    _noisy,
    _tit_for_tat,
    _always_cooperate,
    _always_defect,
    _random,
    _grim_trigger,
    _pavlov,
    _tit_for_two_tats,
    _suspicious_tit_for_tat,
    _coin_flip,
    _forgiving_tit_for_tat,
]


def column_move(history: list[tuple[int, int]], rng) -> int:
    return rng.choice(STRATEGIES)(history, rng)
