"""The folder walk behind every page: which runs are found, their ids, batches and attempts."""

from __future__ import annotations

import os
from pathlib import Path

from rgym.viewer.discovery import scan
from rgym.viewer.summaries import SummaryCache
from tests.viewer.conftest import cell, write_batch, write_mlgym_run, write_rgym_run


def test_finished_running_and_mlgym_runs_are_found_in_sorted_order(tmp_path):
    write_rgym_run(tmp_path / "b", "run-2")
    write_rgym_run(tmp_path / "a", "run-1", finished=False)
    mlgym = write_mlgym_run(tmp_path / "c")
    catalog = scan([tmp_path])
    refs = list(catalog.runs.values())
    assert [r.id for r in refs] == ["run-1", "run-2", mlgym.name]
    assert [r.kind for r in refs] == ["rgym", "rgym", "mlgym"]
    rows = SummaryCache().rows(catalog)
    assert [r.status for r in rows] == ["running", "finished", "finished"]
    assert rows[0].steps == 5 and rows[0].dev_best == 0.85 and rows[0].exit_status is None
    assert rows[2].task == "battleOfSexes" and rows[2].test_score == 1.3 and rows[2].dev_best == 1.3


def test_ids_are_safe_names_and_a_clash_gets_a_stable_suffix(tmp_path):
    write_rgym_run(tmp_path / "x", "same name")
    write_rgym_run(tmp_path / "y", "same name")
    ids = list(scan([tmp_path]).runs)
    assert ids[0] == "same_name" and ids[1].startswith("same_name-") and len(set(ids)) == 2
    assert ids == list(scan([tmp_path]).runs)  # the same walk gives the same ids


def test_a_batch_groups_its_runs_and_keeps_attempts_apart(tmp_path):
    batch = write_batch(tmp_path, "sweep", [cell("r0"), cell("r1", seed=1), cell("r2", seed=2)])
    write_rgym_run(batch / "runs", "r0")
    write_rgym_run(batch / "runs", "r1", seed=1, finished=False)
    write_rgym_run(batch / "attempts" / "r0", "attempt-1", exit_status="interrupted")
    write_rgym_run(batch / "attempts" / "r0", "attempt-2", exit_status="infra_error")
    catalog = scan([tmp_path])
    assert [r.id for r in catalog.counted()] == ["r0", "r1"]
    attempts = catalog.attempts["r0"]
    assert [a.attempt for a in attempts] == [1, 2]
    assert all(a.attempt_of == "r0" and a.id in catalog.runs for a in attempts)
    rows = SummaryCache().rows(catalog)
    assert [(r.id, r.status, r.batch_name) for r in rows] == [
        ("r0", "finished", "sweep"),
        ("r1", "running", "sweep"),
        (None, "queued", "sweep"),
    ]
    assert rows[2].cell == "titanic/demo/s2" and rows[2].seed == 2


def test_an_unreadable_batch_json_is_a_warning_and_its_runs_still_show(tmp_path):
    batch = write_batch(tmp_path, "broken", [])
    (batch / "batch.json").write_text("{not json")
    write_rgym_run(batch / "runs", "r0")
    catalog = scan([tmp_path])
    assert list(catalog.runs) == ["r0"]
    assert any("batch.json: unreadable" in w for w in catalog.warnings)


def test_symlinked_folders_are_followed_only_inside_the_served_folders(tmp_path):
    served, outside = tmp_path / "served", tmp_path / "outside"
    write_rgym_run(outside, "secret-run")
    write_rgym_run(served / "real", "inner-run")
    served.mkdir(exist_ok=True)
    os.symlink(outside, served / "link-out")
    os.symlink(served / "real", served / "link-in")
    catalog = scan([served])
    assert list(catalog.runs) == ["inner-run"]  # reached once, through the real folder
    assert any("link-out" in w and "outside the served folders" in w for w in catalog.warnings)


def test_a_root_that_is_itself_a_run_is_found(tmp_path):
    run = write_rgym_run(tmp_path, "solo")
    assert list(scan([Path(run)]).runs) == ["solo"]
