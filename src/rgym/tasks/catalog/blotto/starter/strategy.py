"""Your row player for Colonel Blotto. Edit row_strategy; keep its signature."""

import random

SOLDIERS = 120
FIELDS = 6


def row_strategy(history: list[tuple[list[int], list[int]]]) -> list[int]:
    """Choose this round's allocation of soldiers to the six battlefields.

    Args:
        history: the earlier rounds of this game, as (your allocation, column player's
            allocation) pairs.

    Returns:
        six non-negative integers summing to at most 120.
    """
    allocation = [0] * FIELDS
    # reinforce a few randomly chosen battlefields
    for _ in range(random.randint(1, FIELDS)):
        allocation[random.randint(0, FIELDS - 1)] += random.randint(10, 30)
    # spread what is left over the battlefields that got nothing
    left = SOLDIERS - sum(allocation)
    for i in range(FIELDS):
        if allocation[i] == 0:
            allocation[i] = random.randint(0, max(0, left))
            left -= allocation[i]
    # scale to exactly 120 soldiers
    total = sum(allocation)
    allocation = [int(x * SOLDIERS / total) for x in allocation]
    while sum(allocation) != SOLDIERS:
        allocation[random.randint(0, FIELDS - 1)] += SOLDIERS - sum(allocation)
    return allocation
