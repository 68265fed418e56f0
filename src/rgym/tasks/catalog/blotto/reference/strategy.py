"""Reference row player: 30 soldiers on four battlefields, none on the other two.

A round is decided by the number of battlefields won. Against an opponent that spreads its
120 soldiers at random over all six fields, a field with 30 soldiers is won about three times
in four; four such fields beat the opponent's two uncontested ones whenever all four hold,
which wins the round far more often than it loses it. Which four fields is drawn at random
each round, so the allocation is not predictable.
"""

import random


def row_strategy(history):
    fields = random.sample(range(6), 4)
    return [30 if i in fields else 0 for i in range(6)]
