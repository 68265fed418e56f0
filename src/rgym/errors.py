"""Every error rgym raises on purpose, in one place.

Each message says what was wrong, where (file, field, command) and what to do next. Code catches
these only where a boundary owns an outcome: exec -> ExecResult, grader -> Grade,
run -> exit status.
"""

from __future__ import annotations


class RgymError(Exception):
    """Base class: anything rgym reports to a user as a clean error rather than a traceback."""


class TaskNotFound(RgymError):
    def __init__(self, task_id: str, known: list[str]) -> None:
        import difflib

        near = difflib.get_close_matches(task_id, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(n) for n in near)}?" if near else ""
        listing = ", ".join(sorted(known)) or "(none)"
        super().__init__(
            f"Unknown task {task_id!r}.{hint} Known tasks: {listing}. "
            "Run `rgym tasks` to list them, or pass --tasks-dir for your own."
        )
        self.task_id = task_id
        self.suggestions = near


class TaskSpecError(RgymError):
    """A task.yaml (or MLGym task YAML) that does not match the schema."""

    def __init__(self, file: str, field: str, expected: str) -> None:
        super().__init__(f"{file}: field {field!r}: {expected}")
        self.file, self.field, self.expected = file, field, expected


class SandboxUnavailable(RgymError):
    """The sandbox could not be started or broke.

    `cause` says whose doing it was, judged from evidence (`evidence` says which): "agent" when
    the agent's own use of its limits ended it (its memory limit, for instance), "host" for an
    infrastructure failure. The env grades the artefact either way and types the exit status by
    the cause.
    """

    def __init__(self, message: str, cause: str = "host", evidence: str = "") -> None:
        super().__init__(message)
        self.cause = cause
        self.evidence = evidence


class SandboxProtocolError(SandboxUnavailable):
    """The sandbox's shell sent a reply that is not a well-formed answer (too long, not JSON,
    wrong fields); the channel cannot be trusted after it, so the sandbox is stopped."""


class DataUnavailable(RgymError):
    """A task's data recipe cannot produce its data (a package is missing, a file is absent)."""


class BudgetExceeded(RgymError):
    def __init__(self, kind: str, used: float, limit: float) -> None:
        super().__init__(f"budget {kind!r} exhausted: used {used:g} of {limit:g}")
        self.kind, self.used, self.limit = kind, used, limit


class ConfigError(RgymError):
    """Bad run configuration or CLI input."""
