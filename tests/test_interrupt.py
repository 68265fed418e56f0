"""Ctrl-C during a run leaves a complete record that says the run was interrupted (a batch
re-runs such runs on --resume)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import requires_bwrap


@requires_bwrap
def test_ctrl_c_mid_run_writes_an_interrupted_result(tmp_path: Path):
    actions = tmp_path / "actions.yaml"
    actions.write_text("- sleep 60\n- submit\n")
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "faulthandler",  # SIGABRT then prints where it hangs, should it ever hang
            "-m",
            "rgym.cli",
            "run",
            "battle-of-sexes",
            "--actions",
            str(actions),
            "--runs-dir",
            str(runs),
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the sleep is running in the sandbox
        events = list(runs.glob("*/events.jsonl"))
        if events and '"action"' in events[0].read_text():
            break
        time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("the run never started its first action")
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # faulthandler dumps every thread's stack
        out, _ = proc.communicate(timeout=30)
        events = "".join(p.read_text()[-2000:] for p in runs.glob("*/events.jsonl"))
        raise AssertionError(
            f"rgym run did not exit within 60 s of SIGINT.\n{out.decode(errors='replace')}\n"
            f"last events:\n{events}"
        ) from None
    assert proc.returncode != 0, out
    (run_dir,) = runs.iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["exit_status"] == "interrupted"
    assert result["test_score"] is None and result["normalised_score"] is None
    kinds = [json.loads(x).get("kind") for x in (run_dir / "events.jsonl").read_text().splitlines()]
    assert "interrupted" in kinds


def test_an_interrupt_during_reset_still_leaves_a_result(tmp_path: Path, monkeypatch):
    import pytest

    from rgym.env import ResearchEnv
    from rgym.runs.runner import RunConfig, run

    def reset_cut_short(self, *, seed=None, options=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(ResearchEnv, "reset", reset_cut_short)
    config = RunConfig(task="battle-of-sexes", runs_dir=tmp_path, run_id="cut")
    with pytest.raises(KeyboardInterrupt):
        run(config)
    result = json.loads((tmp_path / "cut" / "result.json").read_text())
    assert result["exit_status"] == "interrupted" and result["totals"]["steps"] == 0
