"""Every code example in the README runs: Python blocks are executed as they are, and every
`rgym …` command named in the README's text is run through the real CLI (those that need a
model API key or write outside a temporary folder are run with a harmless equivalent)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import requires_bwrap

README = Path(__file__).resolve().parents[1] / "README.md"
RGYM = [sys.executable, "-m", "rgym.cli"]


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_names_nothing_outside_the_project():
    text = README.read_text()
    assert "../" not in text and "shared/" not in text
    for link in re.findall(r"\]\(([^)]+)\)", text):
        if not link.startswith(("http://", "https://", "#")):
            assert (README.parent / link).exists(), f"README links to missing {link}"


def test_the_readme_has_exactly_two_setup_commands_at_its_top():
    first = _blocks("bash")[0]
    commands = [ln for ln in first.splitlines() if ln.strip() and not ln.startswith("#")]
    assert commands == [
        "./install.sh && .venv/bin/rgym run titanic",
        './install.sh --dev && .venv/bin/pytest -m "not slow"',
    ]


@requires_bwrap
@pytest.mark.parametrize("code", _blocks("python"), ids=lambda c: c.splitlines()[0][:40])
def test_python_examples_run(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def _cli_commands() -> list[str]:
    """`rgym …` commands quoted in the README's text (not the set-up block)."""
    found = re.findall(r"`(rgym [^`]+)`", README.read_text())
    placeholders = ("TASK", "RUNS", "SPEC", "BATCH", "…")
    return sorted(
        {c for c in found if not any(p in c for p in placeholders) and c not in NAMES_ONLY}
    )


NAMES_ONLY = {"rgym batch", "rgym serve", "rgym view", "rgym export sft", "rgym export rl"}
"""Commands named in prose, not examples: bare, they need input or serve until stopped."""


FIXTURE_REPO = Path(__file__).parent / "mlgym" / "fixtures" / "repo"
"""A small MLGym-format checkout written for rgym's tests (MLGym's own is not vendored)."""


@requires_bwrap
@pytest.mark.parametrize("command", _cli_commands())
def test_cli_examples_run(command, tmp_path):
    argv = shlex.split(command)[1:]
    if "path/to/MLGym" in argv:  # the README's MLGym example, on rgym's own MLGym-format fixture
        i = argv.index("path/to/MLGym")
        argv[i] = str(FIXTURE_REPO)
        argv[argv.index("mlgym/battleOfSexes")] = "mlgym/coinGame"
        argv += ["--actions", str(tmp_path / "actions.yaml")]
        (tmp_path / "actions.yaml").write_text("- submit\n")
    if argv[:1] == ["run"]:
        argv += ["--runs-dir", str(tmp_path / "runs")]
    if argv[:1] == ["report"]:
        subprocess.run(
            [*RGYM, "run", "battle-of-sexes", "--runs-dir", str(tmp_path / "runs")],
            check=True,
            capture_output=True,
            timeout=300,
        )
        argv = ["report", str(tmp_path / "runs")]
    if argv[:1] == ["verify"]:
        argv = ["verify", "battle-of-sexes"]
    proc = subprocess.run([*RGYM, *argv], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, f"`{command}` failed:\n{proc.stdout}\n{proc.stderr}"
