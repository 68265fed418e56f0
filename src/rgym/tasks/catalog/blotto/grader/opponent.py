"""The column player. It lives only here: never in the agent's workspace or sandbox.

Every round it ignores the history and spreads its soldiers at random: six integers drawn
uniformly from 0..120, scaled to sum to 120 (truncating), with the shortfall added to a field
chosen at random (MLGym's blotto target, reproduced from its published behaviour).
"""

SOLDIERS = 120
FIELDS = 6


def normalise(allocation: list[int], rng) -> list[int]:
    total = sum(allocation)
    out = [int(x * SOLDIERS / total) for x in allocation]
    while sum(out) != SOLDIERS:
        out[rng.randint(0, FIELDS - 1)] += SOLDIERS - sum(out)
    return out


def column_move(history, rng) -> list[int]:
    allocation = [rng.randint(0, SOLDIERS) for _ in range(FIELDS)]
    if sum(allocation) == 0:
        allocation = [1] * FIELDS
    return normalise(allocation, rng)
