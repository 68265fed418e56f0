"""The Ray backend against a real local Ray instance: real replay runs in bwrap sandboxes, records
written to a shared folder or shipped back, a Ray worker killed mid-run, an interrupt, and the
checks on a shipped record."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from rgym.batch.backend import JobEnd
from rgym.batch.job import Job, Slots
from rgym.batch.ray_backend import RayBackend, RecordRefused, pack_record, unpack_record
from rgym.runs.runner import RunConfig
from tests.conftest import requires_bwrap

TASK = "battle-of-sexes"


@pytest.fixture(scope="module")
def ray_instance(rgym_cache):
    """One local Ray instance for the module (its workers inherit the test cache's key)."""
    ray = pytest.importorskip("ray", reason="the Ray backend needs ray: pip install 'rgym[ray]'")
    ray.init(  # "local": a new instance even if this machine is in a cluster
        address="local",
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    yield ray
    ray.shutdown()


@pytest.fixture
def backends(ray_instance):
    ray = ray_instance
    made: list[RayBackend] = []

    def make(**kwargs) -> RayBackend:
        made.append(RayBackend(**kwargs))
        return made[-1]

    yield make
    for backend in made:
        backend.shutdown()
    assert ray.is_initialized(), "a backend stopped a Ray instance it did not start"


def replay_job(run_id: str, runs_dir: Path, actions: Path | None = None) -> Job:
    config = RunConfig(task=TASK, agent="replay", cpus=1, actions=actions)
    return Job(
        run_id=run_id,
        cell=run_id,
        config=config.model_dump(mode="json"),
        runs_dir=str(runs_dir),
        slots=Slots(cpus=1, memory_mb=1024),
    )


def sleeper(tmp_path: Path) -> Path:
    """Actions whose first one keeps the run busy in its sandbox for 30 s."""
    path = tmp_path / "sleep.yaml"
    path.write_text("- sleep 30\n- submit\n")
    return path


def wait_ends(backend: RayBackend, count: int, timeout: float = 90) -> list[JobEnd]:
    ends: list[JobEnd] = []
    deadline = time.monotonic() + timeout
    while len(ends) < count:
        assert time.monotonic() < deadline, f"{count - len(ends)} job(s) did not end in time"
        ends += backend.wait(1.0)
    return ends


def wait_until_sleeping(run_dir: Path, timeout: float = 60) -> None:
    """Until the run has started its `sleep 30` (its action event is written before it runs)."""
    deadline = time.monotonic() + timeout
    events = run_dir / "events.jsonl"
    while not (events.exists() and '"action": "sleep 30"' in events.read_text()):
        assert time.monotonic() < deadline, f"{run_dir.name} never reached its sleep"
        time.sleep(0.1)


def ray_worker_of(run_id: str) -> int:
    """The pid of the Ray worker running `run_id` (Ray sets its process title to the task's)."""
    for proc in Path("/proc").iterdir():
        try:
            title = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if proc.name.isdigit() and title == f"ray::rgym:{run_id}":
            return int(proc.name)
    raise AssertionError(f"no Ray worker is running rgym:{run_id}")


def comparable(result: dict) -> dict:
    """A result without what differs between two runs of the same config (id, folder, time)."""
    drop = {"run_id", "run_dir", "totals"}
    return {k: v for k, v in result.items() if k not in drop}


@requires_bwrap
def test_replay_runs_leave_the_same_record_written_in_place_or_shipped_back(backends, tmp_path):
    shared, shipping = backends(), backends(ship_records=True)
    assert shared.capacity()["cpus"] == 2
    shared.submit(replay_job("shared", tmp_path / "runs"))
    shipping.submit(replay_job("shipped", tmp_path / "driver-runs"))
    assert shared.free()["cpus"] == 1, "a running job holds its slots"
    assert shared.free()["memory_mb"] == shared.capacity()["memory_mb"] - 1024

    ends = {e.job.run_id: e for e in wait_ends(shared, 1) + wait_ends(shipping, 1)}

    assert shared.free() == shared.capacity() and not shared.running()
    results = {}
    for run_id, runs_dir in (("shared", "runs"), ("shipped", "driver-runs")):
        end = ends[run_id]
        assert end.died is None and end.outcome is not None
        assert end.outcome.exit_status == "submitted"
        assert end.worker_seconds is not None and end.worker_seconds > 0
        run_dir = tmp_path / runs_dir / run_id
        results[run_id] = json.loads((run_dir / "result.json").read_text())
        assert results[run_id]["test_score"] == end.outcome.test_score
        assert results[run_id]["integrity"]["isolated"] is True  # bwrap worked in the worker
        assert (run_dir / "artifact" / "strategy.py").is_file()
    assert comparable(results["shipped"]) == comparable(results["shared"])
    assert sorted(p.name for p in (tmp_path / "driver-runs").iterdir()) == ["shipped"]


@requires_bwrap
def test_a_killed_ray_worker_is_reported_as_died_not_as_an_outcome(backends, tmp_path):
    backend = backends()
    backend.submit(replay_job("killed", tmp_path / "runs", sleeper(tmp_path)))
    wait_until_sleeping(tmp_path / "runs" / "killed")

    os.kill(ray_worker_of("killed"), signal.SIGKILL)
    [end] = wait_ends(backend, 1, timeout=30)

    assert end.outcome is None
    assert end.died and "WorkerCrashedError" in end.died
    assert not (tmp_path / "runs" / "killed" / "result.json").exists()


def test_a_run_that_raises_is_reported_as_died_with_its_error(backends, tmp_path):
    backend = backends(ship_records=True)
    job = replay_job("unknown", tmp_path / "runs")
    job.config["task"] = "no-such-task"  # TaskNotFound, an exception that does not pickle
    backend.submit(job)

    [end] = wait_ends(backend, 1, timeout=30)

    assert end.outcome is None
    assert end.died and end.died.startswith("the run raised TaskNotFound")
    assert "no-such-task" in end.died
    assert not (tmp_path / "runs").exists()  # nothing was recorded, so nothing was shipped


@requires_bwrap
def test_interrupt_stops_a_run_mid_command_and_one_still_queued_never_starts(backends, tmp_path):
    backend = backends()
    running = replay_job("stopped", tmp_path / "runs", sleeper(tmp_path))
    running.slots.cpus = 2  # all of the instance: the next job waits in Ray's queue
    backend.submit(running)
    backend.submit(replay_job("queued", tmp_path / "runs"))
    wait_until_sleeping(tmp_path / "runs" / "stopped")

    asked = time.monotonic()
    backend.interrupt()
    ends = {e.job.run_id: e for e in wait_ends(backend, 2, timeout=25)}

    # well before the 30 s sleep ends: the worker got a real SIGINT, not a deferred one
    assert time.monotonic() - asked < 20
    stopped, queued = ends["stopped"], ends["queued"]
    assert stopped.died is None and stopped.outcome is not None
    assert stopped.outcome.exit_status == "interrupted"
    result = json.loads((tmp_path / "runs" / "stopped" / "result.json").read_text())
    assert result["exit_status"] == "interrupted"
    assert queued.outcome is not None and queued.outcome.exit_status == "interrupted"
    assert queued.outcome.message == "stopped before the run started"
    assert not (tmp_path / "runs" / "queued").exists()


@requires_bwrap
@pytest.mark.slow
def test_a_run_still_going_after_the_grace_period_is_force_cancelled(backends, tmp_path):
    backend = backends(grace_s=0)
    backend.submit(replay_job("forced", tmp_path / "runs", sleeper(tmp_path)))
    wait_until_sleeping(tmp_path / "runs" / "forced")

    backend.interrupt()
    [end] = wait_ends(backend, 1, timeout=25)

    assert end.outcome is None and end.died and "force-cancelled" in end.died


# ------------------------------------------------------------ shipped records (no Ray needed)


def tar_of(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (member("../outside.txt"), "not a relative path"),
        (member("artifact/../../outside.txt"), "not a relative path"),
        (member("/etc/cron.d/evil"), "not a relative path"),
        (member("artifact/strategy.py", tarfile.SYMTYPE, "/etc/shadow"), "a link"),
        (member("artifact/strategy.py", tarfile.LNKTYPE, "result.json"), "a link"),
        (member("artifact/pipe", tarfile.FIFOTYPE), "not a plain file"),
    ],
)
def test_a_shipped_record_with_a_bad_member_is_refused_and_nothing_is_written(tmp_path, bad, says):
    data = tar_of((member("result.json"), b"{}"), (bad, b"x" if bad.isfile() else b""))
    dest = tmp_path / "runs" / "r1"

    with pytest.raises(RecordRefused, match=says):
        unpack_record(data, dest)

    assert list((tmp_path / "runs").iterdir()) == []  # no run, no half-unpacked folder
    assert not (tmp_path / "outside.txt").exists()


def test_a_run_folder_round_trips_and_is_never_unpacked_over_another(tmp_path):
    run = tmp_path / "node" / "r1"
    (run / "artifact").mkdir(parents=True)
    (run / "result.json").write_text('{"exit_status": "submitted"}')
    (run / "artifact" / "strategy.py").write_text("def row_strategy(h):\n    return 0\n")
    data = pack_record(run, limit_bytes=1 << 20)

    dest = unpack_record(data, tmp_path / "runs" / "r1")

    assert (dest / "artifact" / "strategy.py").read_text() == "def row_strategy(h):\n    return 0\n"
    assert json.loads((dest / "result.json").read_text()) == {"exit_status": "submitted"}
    with pytest.raises(RecordRefused, match="already exists"):
        unpack_record(data, dest)
    with pytest.raises(RecordRefused, match="over the 0 MiB limit"):
        pack_record(run, limit_bytes=1024)


@pytest.mark.slow
def test_a_backend_stops_the_ray_instance_it_started_and_only_that(tmp_path):
    script = (
        "import ray\n"
        "from rgym.batch.ray_backend import RayBackend\n"
        "backend = RayBackend(num_cpus=1)\n"
        "assert backend.capacity()['cpus'] == 1, backend.capacity()\n"
        "backend.shutdown()\n"
        "assert not ray.is_initialized()\n"
        "print('stopped')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0 and "stopped" in done.stdout, done.stderr[-2000:]
