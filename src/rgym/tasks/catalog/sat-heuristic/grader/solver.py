"""The DPLL solver that scores a branching heuristic (rgym's own; the grader uses its copy).

DPLL with unit propagation and chronological backtracking. Whenever propagation leaves the
formula undecided, the solver asks the heuristic for a decision: a free variable and the value
to try first. If that branch fails, the solver tries the other value (a backtrack, not a new
decision). The score of a heuristic is the number of decisions it needed.

What the heuristic receives (plain JSON-like data; tuples arrive as lists):

    clauses     the current formula: every clause not yet satisfied, with its false literals
                removed (literal v means "variable v is true", -v "variable v is false")
    assignment  a list of length num_vars + 1: assignment[v] is True, False or None (free);
                assignment[0] is always None
    num_vars    the number of variables (1..num_vars)
    conflicts   conflicts met so far on this instance
    level       the decision level (0 at the root)

and returns `(variable, value)`: a free variable and the bool to try first.

Many instances are solved side by side; each round the solver collects one question from each
unfinished instance and asks them in one batch (`ask(list_of_argument_lists) -> list`), so the
order of calls, and the decisions of a seeded heuristic, are the same on every run.
"""

from __future__ import annotations


class BadDecision(Exception):
    """The heuristic's answer cannot be used; the message says why."""


class DecisionLimit(Exception):
    """An instance needed more decisions than allowed."""


def _simplify(clauses: list[list[int]], true_lits: set[int]) -> list[list[int]] | None:
    """Make `true_lits` true: drop satisfied clauses, strip false literals; None on conflict."""
    false_lits = {-lit for lit in true_lits}
    out = []
    for c in clauses:
        keep = True
        for lit in c:
            if lit in true_lits:
                keep = False
                break
        if not keep:
            continue
        if any(lit in false_lits for lit in c):
            c = [lit for lit in c if lit not in false_lits]
            if not c:
                return None
        out.append(c)
    return out


class Instance:
    """One DPLL run, driven step by step so that many can share a batch of heuristic calls."""

    def __init__(self, name: str, num_vars: int, clauses: list[list[int]],
                 max_decisions: int = 1_000_000):
        self.name = name
        self.num_vars = num_vars
        self.clauses = [list(c) for c in clauses]
        self.max_decisions = max_decisions
        self.assignment: list[bool | None] = [None] * (num_vars + 1)
        self.decisions = 0
        self.conflicts = 0
        self.satisfiable: bool | None = None
        self.model: list[bool | None] | None = None
        self._gen = self._search(self.clauses, 0)
        self.question: list | None = None
        self._advance(None)

    @property
    def done(self) -> bool:
        return self.satisfiable is not None

    def _advance(self, answer) -> None:
        try:
            self.question = self._gen.send(answer)
        except StopIteration as stop:
            self.satisfiable = bool(stop.value)
            self.question = None

    def answer(self, reply) -> None:
        """Give the heuristic's reply to the pending question and run to the next one."""
        self._advance(self._check(reply))

    def _check(self, reply) -> tuple[int, bool]:
        where = f"on instance {self.name} (decision {self.decisions + 1})"
        if not isinstance(reply, list | tuple) or len(reply) != 2:
            raise BadDecision(f"heuristic returned {reply!r} {where}; it must return a pair "
                              "(variable, value)")
        var, value = reply
        if isinstance(var, bool) or not isinstance(var, int):
            raise BadDecision(f"heuristic returned variable {var!r} {where}; the variable must "
                              f"be an int between 1 and {self.num_vars}")
        if not 1 <= var <= self.num_vars:
            raise BadDecision(f"heuristic returned variable {var} {where}, which does not exist; "
                              f"variables are 1..{self.num_vars}")
        if self.assignment[var] is not None:
            raise BadDecision(f"heuristic returned variable {var} {where}, which is already "
                              f"assigned ({self.assignment[var]}); choose a free variable "
                              "(assignment[v] is None)")
        if not isinstance(value, bool):
            raise BadDecision(f"heuristic returned value {value!r} for variable {var} {where}; "
                              "the value must be True or False")
        return var, value

    def _propagate(self, clauses, trail):
        while True:
            units = {c[0] for c in clauses if len(c) == 1}
            if not units:
                return clauses
            if any(-u in units for u in units):
                return None
            for u in sorted(units, key=abs):
                self.assignment[abs(u)] = u > 0
                trail.append(abs(u))
            clauses = _simplify(clauses, units)
            if clauses is None:
                return None

    def _search(self, clauses, level):
        trail: list[int] = []
        clauses = self._propagate(clauses, trail)
        if clauses is None:
            self.conflicts += 1
            self._undo(trail)
            return False
        if not clauses:
            self.model = list(self.assignment)
            return True
        if self.decisions >= self.max_decisions:
            raise DecisionLimit(f"instance {self.name} needed more than {self.max_decisions} "
                                "decisions")
        var, value = yield [clauses, list(self.assignment), self.num_vars, self.conflicts, level]
        self.decisions += 1
        for v in (value, not value):
            self.assignment[var] = v
            reduced = _simplify(clauses, {var if v else -var})
            if reduced is None:
                self.conflicts += 1
            elif (yield from self._search(reduced, level + 1)):
                return True
            self.assignment[var] = None
        self._undo(trail)
        return False

    def _undo(self, trail):
        for v in trail:
            self.assignment[v] = None


def solve_all(instances: list[Instance], ask) -> list[Instance]:
    """Run every instance to its verdict; `ask` answers a batch of heuristic questions."""
    while True:
        active = [inst for inst in instances if not inst.done]
        if not active:
            return instances
        replies = ask([inst.question for inst in active])
        for inst, reply in zip(active, replies, strict=True):
            inst.answer(reply)


def check_model(clauses: list[list[int]], model: list[bool | None]) -> bool:
    """Does the assignment satisfy every clause? (Free variables count as neither value.)"""
    return all(any(model[abs(lit)] is (lit > 0) for lit in c) for c in clauses)
