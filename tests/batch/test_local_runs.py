"""`rgym batch` with real runs on the local pool: the matrix runs, the agent's failures are not
retried, the report counts each cell once, and --resume redoes nothing that finished."""

from __future__ import annotations

import hashlib

from typer.testing import CliRunner

from rgym.cli import app
from rgym.metrics.runs import load_runs
from tests.batch.conftest import read_state, result_of

SPEC = """
name: e2e
tasks: [prisoners-dilemma:tiny]
agents:
  - {}                                  # the task's demonstration
  - {actions: gives-up.yaml, label: gives-up}
resources: {cpus: 1}
"""


def fingerprint(folder):
    return {
        p.relative_to(folder).as_posix(): (
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_real_runs_report_and_resume(tmp_path):
    (tmp_path / "gives-up.yaml").write_text("- rm strategy.py\n")
    spec = tmp_path / "sweep.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "batch"
    cli = CliRunner()
    done = cli.invoke(app, ["batch", str(spec), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "2 runs: 1 done, 1 failed" in done.output
    statuses = {
        d.name.split("__")[2]: result_of(d)["exit_status"] for d in (out / "runs").iterdir()
    }
    assert statuses == {"replay": "submitted", "gives-up": "no_artifact"}
    assert not (out / "attempts").exists()  # the agent's failure is never retried
    started = [e for e in read_state(out) if e["type"] == "started"]
    assert len(started) == 2 and all(len(e["cpu_ids"]) == 1 for e in started)
    assert {e["cpu_ids"][0] for e in started} <= {0, 1}
    assert (out / "report" / "report.md").exists()
    assert len(load_runs([out]).records) == 2

    before = fingerprint(out / "runs")
    again = cli.invoke(app, ["batch", str(spec), "--out", str(out), "--resume", "--no-report"])
    assert again.exit_code == 0, again.output
    assert fingerprint(out / "runs") == before
    assert [e["type"] for e in read_state(out)].count("started") == 2
