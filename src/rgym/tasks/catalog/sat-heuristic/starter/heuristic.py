"""Your branching heuristic for rgym's DPLL solver. Edit heuristic(); keep its signature.

The solver calls heuristic() at every decision point: after unit propagation, when the formula
is neither satisfied nor contradicted. Return a free variable and the value to try first; if
that branch fails, the solver tries the other value itself.
"""

import random

_rng = random.Random(10)


def heuristic(
    clauses: list[list[int]], assignment: list, num_vars: int, conflicts: int, level: int
) -> tuple[int, bool]:
    """Choose the next decision.

    Args:
        clauses: the current formula: each clause not yet satisfied, without its false
            literals (literal v: variable v is True; -v: variable v is False).
        assignment: assignment[v] is True, False or None (free) for v in 1..num_vars;
            assignment[0] is unused.
        num_vars: the number of variables.
        conflicts: conflicts the solver has met so far on this formula.
        level: the current decision level (0 at the root).

    Returns:
        (variable, value): a free variable (1..num_vars) and True or False.
    """
    free = [v for v in range(1, num_vars + 1) if assignment[v] is None]
    return _rng.choice(free), True
