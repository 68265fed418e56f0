"""Faults a batch survives, each with real runs and a real `rgym batch` process: SIGKILL of the
batch, Ctrl-C, and a worker killed mid-run."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess

from rgym.metrics.runs import load_runs
from tests.batch.conftest import (
    RGYM,
    pid_alive,
    read_state,
    result_of,
    start_batch,
    wait_for,
)

TASK = "prisoners-dilemma:tiny"


def planned_ids(out):
    import json

    return {c["run_id"] for c in json.loads((out / "batch.json").read_text())["cells"]}


def worker_pids(out):
    return {int(e["worker"].split()[1]) for e in read_state(out) if e["type"] == "started"}


def test_sigkill_of_the_batch_then_resume_keeps_one_record_per_run(tmp_path):
    out = tmp_path / "b"
    args = ["--task", TASK, "--seeds", "3", "--cpus-per-run", "1", "--out", str(out), "-q"]
    proc = start_batch(args, tmp_path)

    def first_ended_and_one_cut_short():
        if not any(e["type"] == "ended" for e in read_state(out)):
            return None
        runs = out / "runs"
        cut = [d for d in runs.iterdir() if not (d / "result.json").exists()]
        return cut or None

    wait_for("a finished run and one in progress", first_ended_and_one_cut_short, 120)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    # the workers (and so their runs) die with the batch: no orphans
    workers = worker_pids(out)
    wait_for("the workers to die with the batch", lambda: not any(map(pid_alive, workers)), 15)

    runs = out / "runs"
    finished = {
        d.name: {
            f.name: (f.stat().st_mtime_ns, hashlib.sha256(f.read_bytes()).hexdigest())
            for f in d.iterdir()
            if f.is_file()
        }
        for d in runs.iterdir()
        if (d / "result.json").exists()
    }
    cut = {d.name for d in runs.iterdir() if not (d / "result.json").exists()}
    assert finished and cut

    resumed = subprocess.run(
        [*RGYM, "batch", *args, "--resume"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert {d.name for d in runs.iterdir()} == planned_ids(out)  # every run exactly once
    for run_id in planned_ids(out):
        assert result_of(runs / run_id)["exit_status"] == "submitted"
    for run_id, files in finished.items():  # none that had finished was redone or touched
        now = {
            f.name: (f.stat().st_mtime_ns, hashlib.sha256(f.read_bytes()).hexdigest())
            for f in (runs / run_id).iterdir()
            if f.is_file()
        }
        assert now == files
    for run_id in cut:  # the runs the crash cut short are recorded as interrupted
        (kept,) = (out / "attempts" / run_id).iterdir()
        record = result_of(kept)
        assert (kept.name, record["exit_status"], record["attempt"]) == (
            "attempt-1",
            "interrupted",
            1,
        )
        assert "SIGKILL" in record["message"]
        assert (kept / "manifest.json").exists()  # the cut run's own record, moved whole
    assert set(os.listdir(out / "attempts")) == cut
    assert len(load_runs([out]).records) == 3  # the report counts each run once


def test_ctrl_c_stops_runs_cleanly_and_resume_runs_them(tmp_path):
    (tmp_path / "slow.yaml").write_text("- sleep 4\n- cat strategy.py\n- submit\n")
    out = tmp_path / "b"
    args = [
        "--task",
        TASK,
        "--seeds",
        "2",
        "--actions",
        str(tmp_path / "slow.yaml"),
        "--cpus-per-run",
        "1",
        "--out",
        str(out),
    ]
    proc = start_batch(args, tmp_path)

    def both_working():  # past reset: the agent's first command (a sleep) is running
        runs = out / "runs"
        logs = [d / "events.jsonl" for d in runs.iterdir()] if runs.is_dir() else []
        return len([e for e in logs if e.exists() and '"type": "reset"' in e.read_text()]) == 2

    wait_for("both runs to start", both_working, 120)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the foreground group
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert "stopping: interrupting 2 running run(s)" in output
    assert not any((out / "runs").iterdir())
    for folder in (out / "attempts").iterdir():
        record = result_of(folder / "attempt-1")
        assert record["exit_status"] == "interrupted"
        assert record["task_id"] == "prisoners-dilemma"
        events = (folder / "attempt-1" / "events.jsonl").read_text()
        assert '"kind": "interrupted"' in events  # the run recorded its own interruption
    state = read_state(out)
    assert [e["type"] for e in state].count("interrupted") == 2
    assert any(e["type"] == "stop" and e["reason"] == "interrupt" for e in state)

    resumed = subprocess.run(
        [*RGYM, "batch", *args, "--resume", "-q", "--no-report"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert {d.name for d in (out / "runs").iterdir()} == planned_ids(out)
    assert all(result_of(d)["exit_status"] == "submitted" for d in (out / "runs").iterdir())


def test_a_killed_worker_is_retried_and_both_attempts_recorded(tmp_path):
    out = tmp_path / "b"
    args = ["--task", TASK, "--cpus-per-run", "1", "--out", str(out), "-q", "--no-report"]
    proc = start_batch(args, tmp_path)
    (run_id,) = wait_for(
        "the batch to plan", lambda: planned_ids(out) if (out / "batch.json").exists() else None, 60
    )
    wait_for("the run to start", lambda: (out / "runs" / run_id / "events.jsonl").exists(), 120)
    (pid,) = worker_pids(out)
    os.kill(pid, signal.SIGKILL)
    output, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, output
    assert "retrying (1/2)" in output

    first = result_of(out / "attempts" / run_id / "attempt-1")
    assert (first["exit_status"], first["attempt"]) == ("infra_error", 1)
    assert f"worker process {pid} was killed by SIGKILL" in first["message"]
    assert result_of(out / "runs" / run_id)["exit_status"] == "submitted"
    state = read_state(out)
    assert [e["attempt"] for e in state if e["type"] == "started"] == [1, 2]
    (retry,) = [e for e in state if e["type"] == "retry"]
    assert "SIGKILL" in retry["message"]
    assert pid not in worker_pids(out) - {pid}
