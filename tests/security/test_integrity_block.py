"""Attack: pass off a score made without isolation (`--sandbox local`, where the agent can read
the answers) as a real one. Before the fix only the console said so; result.json and `rgym
report` treated the score like any other. Every score now carries an integrity block, and
reports leave out what was not isolated unless asked."""

from __future__ import annotations

import hashlib
import json

from rgym.metrics.report import build_report
from rgym.runs.runner import RunConfig, run
from rgym.tasks.secret import fingerprint
from tests.conftest import TEST_KEY, requires_bwrap

pytestmark = requires_bwrap


def _run(tmp_path, sandbox: str):
    return run(RunConfig(task="battle-of-sexes", sandbox=sandbox, runs_dir=tmp_path / "runs"))


def test_every_score_carries_an_integrity_block(tmp_path):
    r = _run(tmp_path, "bwrap")
    data = json.loads((r.run_dir / "result.json").read_text())
    block = data["integrity"]
    assert block["sandbox"] == "bwrap" and block["isolated"] is True
    limits = block["limits_in_force"]
    assert limits["pids"] and limits["mechanism"]
    assert "disk_mb" in limits and "userns" in limits
    assert block["seed_mode"] == "secret"
    assert block["key_fingerprint"] == fingerprint(TEST_KEY)
    assert len(block["grader_version"]) == 16
    saved = (r.run_dir / "artifact" / "strategy.py").read_bytes()
    assert block["artifact_sha256"] == hashlib.sha256(saved).hexdigest()
    assert block["artifact_bytes"] == len(saved)
    assert block["scores_measured_on"]


def test_a_local_run_is_marked_and_left_out_of_reports(tmp_path):
    honest = _run(tmp_path, "bwrap")
    local = _run(tmp_path, "local")
    block = json.loads((local.run_dir / "result.json").read_text())["integrity"]
    assert block["isolated"] is False and block["sandbox"] == "local"

    report = build_report([tmp_path / "runs"], n_resamples=10)
    assert len(report.runs) == 1 and report.runs["run_id"].tolist() == [honest.run_id]
    assert any("left out 1 run(s) made without isolation" in w for w in report.warnings)

    both = build_report([tmp_path / "runs"], n_resamples=10, include_unisolated=True)
    assert len(both.runs) == 2
