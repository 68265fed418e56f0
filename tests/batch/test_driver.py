"""The driver's decisions, on the real local pool with an instant job function: resume,
retries of infrastructure failures only, the batch's cost and wall limits, and the checks made
before anything starts."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from rgym.batch.driver import run_batch
from rgym.batch.local import LocalPool
from rgym.batch.plan import plan_cells
from rgym.batch.spec import check_matrix, parse_spec
from rgym.batch.state import lock_batch, scan_batch
from rgym.errors import ConfigError
from tests.batch.conftest import read_state, result_of, wait_for
from tests.batch.fake_runner import fake_job


def spec_of(**fields):
    return parse_spec({"tasks": ["battle-of-sexes:default"], "resources": {"cpus": 1}, **fields})


def pool(cpus=2):
    return LocalPool(cpus=cpus, runner=fake_job)


@pytest.fixture
def warm_pool(tmp_path):
    """A pool whose two workers are up (a stop then finds runs under way, however slowly
    workers start on a busy machine)."""
    backend = pool()
    run_batch(spec_of(seeds=2), tmp_path / "warm-up", backend=backend, report=False)
    assert len(backend.workers()) == 2
    yield backend
    backend.shutdown()


def snapshot(folder):
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_batch_runs_every_cell_once_reports_and_resumes_without_redoing(tmp_path):
    spec = spec_of(tasks=["battle-of-sexes", "blotto:tiny", "titanic"], seeds=2)
    out = tmp_path / "b"
    result = run_batch(spec, out, runner=fake_job)
    assert result.exit_code == 0 and result.finished == 6
    runs = sorted(p.name for p in (out / "runs").iterdir())
    manifest = json.loads((out / "batch.json").read_text())
    assert runs == sorted(c["run_id"] for c in manifest["cells"])
    assert all(result_of(out / "runs" / r)["exit_status"] == "submitted" for r in runs)
    assert not (out / "attempts").exists()
    types = [e["type"] for e in read_state(out)]
    assert types[0] == "planned" and types[-1] == "stop"
    assert types.count("started") == types.count("ended") == 6
    assert (out / "report" / "report.md").exists()
    assert "blotto:tiny" in (out / "report" / "report.md").read_text()
    assert result.tally.best["blotto:tiny"] == pytest.approx(1.1)

    before = snapshot(out / "runs")
    again = run_batch(spec, out, runner=fake_job, resume=True, report=False)
    assert again.exit_code == 0 and again.finished == 6 and again.tally.ended_now == 0
    assert snapshot(out / "runs") == before
    last = read_state(out)[-8:]
    assert [e["type"] for e in last] == ["planned"] + ["skipped"] * 6 + ["stop"]


def test_infrastructure_failures_are_retried_and_every_attempt_kept(tmp_path):
    spec = spec_of(agents=[{"options": {"fake_status_first": "infra_error"}}], retries=2)
    out = tmp_path / "b"
    result = run_batch(spec, out, runner=fake_job, report=False)
    assert result.exit_code == 0 and result.tally.retried == 1
    (run_id,) = [p.name for p in (out / "runs").iterdir()]
    assert result_of(out / "runs" / run_id)["exit_status"] == "submitted"
    first = result_of(out / "attempts" / run_id / "attempt-1")
    assert (first["exit_status"], first["attempt"]) == ("infra_error", 1)
    retry = [e for e in read_state(out) if e["type"] == "retry"]
    assert [(e["attempt"], e["next_attempt"]) for e in retry] == [(1, 2)]
    started = [e["attempt"] for e in read_state(out) if e["type"] == "started"]
    assert started == [1, 2]


def test_retries_are_bounded_and_resume_tries_again(tmp_path):
    spec = spec_of(agents=[{"options": {"fake_status": "infra_error"}}], retries=1)
    out = tmp_path / "b"
    result = run_batch(spec, out, runner=fake_job, report=False)
    assert result.exit_code == 1 and result.infra_failed == 1
    (run_id,) = [p.name for p in (out / "runs").iterdir()]
    assert result_of(out / "runs" / run_id)["exit_status"] == "infra_error"
    assert [p.name for p in (out / "attempts" / run_id).iterdir()] == ["attempt-1"]
    # --resume runs it again (the infrastructure may be fixed), keeping the failures
    run_batch(spec, out, runner=fake_job, resume=True, report=False)
    kept = sorted(p.name for p in (out / "attempts" / run_id).iterdir())
    assert kept == ["attempt-1", "attempt-2", "attempt-3"]
    assert [result_of(out / "attempts" / run_id / k)["attempt"] for k in kept] == [1, 2, 3]


@pytest.mark.parametrize("status", ["no_artifact", "invalid_artifact", "agent_error"])
def test_the_agents_failures_are_never_retried(tmp_path, status):
    spec = spec_of(agents=[{"options": {"fake_status": status}}])
    out = tmp_path / "b"
    result = run_batch(spec, out, runner=fake_job, report=False)
    assert result.exit_code == 0 and result.tally.failed == 1 and result.tally.retried == 0
    assert not (out / "attempts").exists()
    assert [e["exit_status"] for e in read_state(out) if e["type"] == "ended"] == [status]


def test_cost_limit_starts_nothing_new_and_resume_continues(tmp_path):
    spec = spec_of(agents=[{"options": {"fake_cost_usd": 1.0}}], seeds=4, workers=1)
    out = tmp_path / "b"
    result = run_batch(spec.model_copy(update={"max_cost_usd": 1.5}), out, runner=fake_job)
    assert result.stopped_by == "cost" and result.exit_code == 1
    assert len(list((out / "runs").iterdir())) == 2  # the second started before $1.5 was hit
    assert result.tally.cost_usd == pytest.approx(2.0)
    state = read_state(out)
    (budget,) = [e for e in state if e["type"] == "budget"]
    assert (budget["kind"], budget["limit"], budget["spent_usd"]) == ("cost", 1.5, 2.0)
    assert [e["why"] for e in state if e["type"] == "skipped"] == ["cost", "cost"]
    # a resume counts what was already spent
    capped = run_batch(
        spec.model_copy(update={"max_cost_usd": 2.0}),
        out,
        runner=fake_job,
        resume=True,
        report=False,
    )
    assert capped.tally.ended_now == 0 and capped.stopped_by == "cost"
    done = run_batch(
        spec.model_copy(update={"max_cost_usd": 10}),
        out,
        runner=fake_job,
        resume=True,
        report=False,
    )
    assert done.exit_code == 0 and done.tally.cost_usd == pytest.approx(4.0)


def test_wall_limit_interrupts_running_runs_and_they_are_resumable(tmp_path, warm_pool):
    spec = spec_of(agents=[{"options": {"fake_seconds": 30}}], seeds=3, max_wall_seconds=1)
    out = tmp_path / "b"
    result = run_batch(spec, out, backend=warm_pool, report=False)
    assert result.stopped_by == "wall" and result.exit_code == 1
    assert result.tally.interrupted == 2 and result.tally.skipped == 1
    assert not (out / "runs").exists() or not any((out / "runs").iterdir())
    for folder in (out / "attempts").iterdir():
        kept = result_of(folder / "attempt-1")
        assert kept["exit_status"] == "interrupted"
    assert {e["kind"] for e in read_state(out) if e["type"] == "budget"} == {"wall"}


def test_a_stop_while_workers_start_leaves_no_record_and_resume_runs_everything(tmp_path):
    spec = spec_of(seeds=2, max_wall_seconds=0.1)  # reached while the workers still import
    out = tmp_path / "b"
    result = run_batch(spec, out, runner=fake_job, report=False)
    assert result.stopped_by == "wall" and result.tally.skipped == 2
    assert result.tally.interrupted == 0
    assert not (out / "attempts").exists() and not list(out.glob("runs/*"))
    again = run_batch(
        spec.model_copy(update={"max_wall_seconds": None}),
        out,
        runner=fake_job,
        resume=True,
        report=False,
    )
    assert again.exit_code == 0 and again.finished == 2
    assert [e["attempt"] for e in read_state(out) if e["type"] == "started"] == [1, 1, 1, 1]


def test_a_run_that_breaks_while_being_stopped_is_still_recorded_interrupted(tmp_path, warm_pool):
    options = {"fake_seconds": 30, "fake_break_on_stop": True}
    spec = spec_of(agents=[{"options": options}], max_wall_seconds=1)
    out = tmp_path / "b"
    result = run_batch(spec, out, backend=warm_pool, report=False)
    assert result.tally.interrupted == 1 and result.infra_failed == 0
    (folder,) = (out / "attempts").iterdir()
    kept = result_of(folder / "attempt-1")
    assert kept["exit_status"] == "interrupted"
    assert "then ended with infra_error" in kept["message"] and "broke" in kept["message"]


def test_a_second_ctrl_c_kills_the_runs_and_records_them_interrupted(tmp_path):
    options = {"fake_seconds": 30, "fake_stop_seconds": 30}  # slow to stop
    spec = spec_of(agents=[{"options": options}], seeds=3)
    out = tmp_path / "b"
    backend = pool()

    def press_ctrl_c_twice():
        begun = lambda: len(list(out.glob("runs/*/manifest.json"))) == 2  # noqa: E731
        wait_for("two runs to begin", begun, 30)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_twice)
    presser.start()
    started = time.monotonic()
    result = run_batch(spec, out, backend=backend, report=False)
    presser.join()
    assert time.monotonic() - started < 15  # not the 30 s the runs take to stop
    assert result.stopped_by == "kill" and result.exit_code == 130
    assert result.tally.interrupted == 2 and result.tally.skipped == 1
    assert backend.workers() == []
    for folder in (out / "attempts").iterdir():
        kept = result_of(folder / "attempt-1")
        assert kept["exit_status"] == "interrupted" and "second Ctrl-C" in kept["message"]
    assert [e["reason"] for e in read_state(out) if e["type"] == "stop"] == [
        "interrupt",
        "kill",
    ]


def test_a_run_folder_left_without_result_is_recorded_interrupted_on_resume(tmp_path):
    spec = spec_of(seeds=2)
    out = tmp_path / "b"
    run_batch(spec, out, runner=fake_job, report=False)
    cells = plan_cells(spec, check_matrix(spec))
    cut = out / "runs" / cells[1].run_id
    (cut / "result.json").unlink()  # as a SIGKILL mid-run leaves it
    scan = scan_batch(out, cells, check_matrix(spec))
    assert list(scan.finished) == [cells[0].run_id]
    assert [c.run_id for c in scan.todo] == [cells[1].run_id]
    kept = result_of(out / "attempts" / cells[1].run_id / "attempt-1")
    assert kept["exit_status"] == "interrupted" and "--resume" in kept["message"]
    assert kept["task_id"] == "battle-of-sexes" and kept["attempt"] == 1
    assert not cut.exists()


def test_nothing_starts_when_the_folder_is_not_writable(tmp_path, tmpfs):
    spec = spec_of()
    readonly = tmpfs(readonly=True)
    backend = pool()
    with pytest.raises(ConfigError, match=r"batch folder .* is not writable \(Read-only"):
        run_batch(spec, readonly / "b", backend=backend)
    assert backend.workers() == []
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(ConfigError, match="is not writable"):
        run_batch(spec, afile / "b", runner=fake_job)


def test_nothing_starts_when_the_disk_is_full(tmpfs):
    spec = spec_of()
    small = tmpfs(size="1m")
    with (small / "filler").open("wb") as f:  # fill it
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    backend = pool()
    with pytest.raises(ConfigError, match="the disk holding the batch folder .* is full"):
        run_batch(spec, small / "b", backend=backend)
    (small / "filler").unlink()
    with pytest.raises(ConfigError, match=r"has \d MB free; a batch needs at least 256 MB"):
        run_batch(spec, small / "b", backend=backend)
    assert backend.workers() == [] and not (small / "b" / "batch.json").exists()
    backend.shutdown()


def test_a_run_that_can_never_fit_is_refused_before_anything_starts(tmp_path):
    spec = parse_spec({"tasks": ["battle-of-sexes"]})  # declares 2 CPUs
    with pytest.raises(ConfigError, match="needs 2 cpus .the local backend has 1.*--cpus-per-run"):
        run_batch(spec, tmp_path / "b", backend=pool(cpus=1))
    assert not (tmp_path / "b").exists()


def test_one_driver_per_batch_folder(tmp_path):
    fd = lock_batch(tmp_path)
    try:
        with pytest.raises(
            ConfigError, match=f"being run by another rgym batch .pid {os.getpid()}"
        ):
            lock_batch(tmp_path)
    finally:
        os.close(fd)
    os.close(lock_batch(tmp_path))
