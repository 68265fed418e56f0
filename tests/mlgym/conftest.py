"""Fixtures for the MLGym import tests: small MLGym-format repositories written for rgym.

`fixtures/repo` is laid out as an MLGym checkout (configs/tasks, configs/datasets, data/<task>)
and holds two tasks: `coinGame` (PythonSubmissionTasks: the agent's strategy.py plays against an
opponent, target.py) and `guessLabels` (CSVSubmissionTasks: a local dataset whose labels are a
secret file, a `{dataset_docs}` prompt, a sample submission).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rgym.sandbox import get_backend

FIXTURE = Path(__file__).parent / "fixtures" / "repo"


def copy_repo(dst: Path) -> Path:
    shutil.copytree(FIXTURE, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


@pytest.fixture
def repo(tmp_path) -> Path:
    """A fresh copy of the fixture checkout (tests may change it)."""
    return copy_repo(tmp_path / "mlgym")


@pytest.fixture(scope="session")
def shared_repo(tmp_path_factory) -> Path:
    """One copy for the tests that only run tasks (their data and baselines are cached once)."""
    return copy_repo(tmp_path_factory.mktemp("shared") / "mlgym")


@pytest.fixture(scope="session")
def sandbox_name() -> str:
    return "bwrap" if shutil.which("bwrap") else "local"


@pytest.fixture(scope="session")
def backend(sandbox_name):
    return get_backend(sandbox_name)
