"""Helpers for the task tests: grade an artefact with a task's real grader in real sandboxes.

The session's data cache comes from tests/conftest.py (`rgym_cache`, a fresh tmp dir), so
these tests never touch ~/.cache/rgym.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from rgym.grading.runner import Grade, grade
from rgym.sandbox import get_backend
from rgym.tasks.data import prepare_data
from rgym.tasks.registry import get_task
from rgym.tasks.spec import TaskSpec
from tests.conftest import requires_bwrap

__all__ = ["requires_bwrap"]


@pytest.fixture(scope="session")
def backend():
    return get_backend("bwrap")


@pytest.fixture(scope="session")
def grade_files(rgym_cache, backend):
    """grade_files(task, {path: text}, split="dev", variant="tiny") -> Grade.

    Writes the files into a fresh workspace and grades it with the task's real grader."""

    def run(
        task: str | TaskSpec,
        files: dict[str, str | bytes],
        split: str = "dev",
        variant: str = "tiny",
    ) -> Grade:
        spec = task if isinstance(task, TaskSpec) else get_task(task)
        data = prepare_data(spec, variant)
        ws = Path(tempfile.mkdtemp(prefix="rgym-test-ws-"))
        try:
            for rel, content in files.items():
                p = ws / rel
                p.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    p.write_bytes(content)
                else:
                    p.write_text(content)
            return grade(spec, variant, ws, split, backend, data)
        finally:
            shutil.rmtree(ws, ignore_errors=True)

    return run


def hidden_labels(data) -> pd.Series:
    """The label of every hidden row (dev and test together), by id."""
    both = pd.concat([pd.read_csv(data.private / f"{s}.csv") for s in ("dev", "test")])
    return both.set_index("id")["label"].sort_index()


def predictions_csv(ids, labels, header: str = "id,label") -> dict[str, str]:
    """A submission.csv of one label per id, as grade_files takes it."""
    rows = "".join(f"{i},{label}\n" for i, label in zip(ids, labels, strict=True))
    return {"submission.csv": f"{header}\n{rows}"}


def task_file(task: str, rel: str) -> str:
    """The text of a file of a catalogue task (e.g. its starter or reference solution)."""
    return get_task(task).path(rel).read_text()
