"""The DPLL solver that scores a branching heuristic (rgym's own; the grader uses its copy).

DPLL with unit propagation and chronological backtracking. Whenever propagation leaves the
formula undecided, the solver asks the heuristic for a decision: a free variable and the value
to try first. If that branch fails, the solver tries the other value (a backtrack, not a new
decision). The score of a heuristic is the number of decisions it needed.

What the heuristic receives (plain JSON-like data; tuples arrive as lists):

    clauses     the current formula: every clause not yet satisfied, with its false literals
                removed, in the original order (literal v means "variable v is true", -v
                "variable v is false")
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


class Instance:
    """One DPLL run, driven step by step so that many can share a batch of heuristic calls."""

    def __init__(
        self, name: str, num_vars: int, clauses: list[list[int]], max_decisions: int = 1_000_000
    ):
        self.name = name
        self.num_vars = num_vars
        self.clauses = [list(c) for c in clauses]
        self.max_decisions = max_decisions
        self.assignment: list[bool | None] = [None] * (num_vars + 1)
        self.decisions = 0
        self.conflicts = 0
        self.satisfiable: bool | None = None
        self.model: list[bool | None] | None = None
        self._occ: dict[int, list[list[int]]] = {}
        for c in self.clauses:
            for lit in c:
                if not 1 <= abs(lit) <= num_vars:
                    raise ValueError(f"instance {name}: literal {lit} outside 1..{num_vars}")
                self._occ.setdefault(lit, []).append(c)
        self._gen = self._search()
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
            raise BadDecision(
                f"heuristic returned {reply!r} {where}; it must return a pair (variable, value)"
            )
        var, value = reply
        if isinstance(var, bool) or not isinstance(var, int):
            raise BadDecision(
                f"heuristic returned variable {var!r} {where}; the variable must "
                f"be an int between 1 and {self.num_vars}"
            )
        if not 1 <= var <= self.num_vars:
            raise BadDecision(
                f"heuristic returned variable {var} {where}, which does not exist; "
                f"variables are 1..{self.num_vars}"
            )
        if self.assignment[var] is not None:
            raise BadDecision(
                f"heuristic returned variable {var} {where}, which is already "
                f"assigned ({self.assignment[var]}); choose a free variable "
                "(assignment[v] is None)"
            )
        if not isinstance(value, bool):
            raise BadDecision(
                f"heuristic returned value {value!r} for variable {var} {where}; "
                "the value must be True or False"
            )
        return var, value

    # --- the search ----------------------------------------------------------------------

    def _value(self, lit: int) -> bool | None:
        v = self.assignment[abs(lit)]
        return v if v is None or lit > 0 else not v

    def _assign(self, lit: int, trail: list[int]) -> bool:
        """Make `lit` true and propagate units to a fixpoint; False on a conflict."""
        a = self.assignment
        queue = [lit]
        a[abs(lit)] = lit > 0
        trail.append(abs(lit))
        while queue:
            lit = queue.pop()
            for c in self._occ.get(-lit, ()):
                free = 0
                unit = 0
                for x in c:
                    v = a[abs(x)]
                    if v is None:
                        free += 1
                        unit = x
                    elif v is (x > 0):
                        break
                else:
                    if free == 0:
                        return False
                    if free == 1:
                        a[abs(unit)] = unit > 0
                        trail.append(abs(unit))
                        queue.append(unit)
        return True

    def _initial_units(self, trail: list[int]) -> bool:
        for c in self.clauses:
            if not c:
                return False
            if len(c) == 1:
                v = self._value(c[0])
                if v is False:
                    return False
                if v is None and not self._assign(c[0], trail):
                    return False
        return True

    def _current(self) -> list[list[int]]:
        a = self.assignment
        out = []
        for c in self.clauses:
            rest = []
            for x in c:
                v = a[abs(x)]
                if v is None:
                    rest.append(x)
                elif v is (x > 0):
                    break
            else:
                out.append(rest)
        return out

    def _undo(self, trail: list[int]) -> None:
        for v in trail:
            self.assignment[v] = None
        trail.clear()

    def _search(self):
        trail: list[int] = []
        if not self._initial_units(trail):
            self.conflicts += 1
            return False
        return (yield from self._branch(0))

    def _branch(self, level: int):
        clauses = self._current()
        if not clauses:
            self.model = list(self.assignment)
            return True
        if self.decisions >= self.max_decisions:
            raise DecisionLimit(
                f"instance {self.name} needed more than {self.max_decisions} decisions"
            )
        var, value = yield [clauses, list(self.assignment), self.num_vars, self.conflicts, level]
        self.decisions += 1
        trail: list[int] = []
        for v in (value, not value):
            if self._assign(var if v else -var, trail):
                if (yield from self._branch(level + 1)):
                    return True
            else:
                self.conflicts += 1
            self._undo(trail)
        return False


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
