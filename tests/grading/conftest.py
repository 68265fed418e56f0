"""The task tests' fixtures (a real grader in real sandboxes) for the grading tests."""

from tests.tasks.conftest import backend, grade_files  # noqa: F401
