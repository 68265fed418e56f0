"""Finding and reading runs: rgym result.json, MLGym folders, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rgym.metrics.report import build_report
from rgym.metrics.runs import NoRunsFound, RunsPathNotFound, find_run_dirs, load_runs


def test_rgym_run_uses_test_score_for_both_views_never_dev(tmp_path: Path, rgym_run) -> None:
    # dev_scores (0.95) are better than test_score (0.81) but belong to another split.
    rgym_run(tmp_path, "r0", dev_scores=[0.95, 0.90])
    (record,) = load_runs([tmp_path]).records
    assert record.source == "rgym"
    assert (record.best, record.last) == (0.81, 0.81)
    assert (record.task_id, record.method, record.direction) == ("titanic", "demo-actions", "max")
    assert (record.baseline, record.reference) == (0.77, 0.82)
    assert (record.prompt_tokens, record.completion_tokens, record.cost_usd) == (1000, 200, 0.01)
    assert (record.wall_seconds, record.model_calls, record.steps) == (3.2, 3, 5)


def test_rgym_null_model_failed_run_variant_and_missing_optional_keys(
    tmp_path: Path, rgym_run
) -> None:
    rgym_run(tmp_path, "a", model=None, test_score=None, variant="hard")
    run_dir = tmp_path / "b"
    run_dir.mkdir()
    minimal = {"task_id": "wine", "direction": "min", "agent": "greedy", "test_score": 0.3}
    (run_dir / "result.json").write_text(json.dumps(minimal))
    a, b = load_runs([tmp_path]).records
    assert a.method == "replay"  # model null -> agent name
    assert a.best is None and a.last is None  # failed run: no score
    assert a.task_id == "titanic:hard"
    assert (b.task_id, b.method, b.best, b.metric, b.baseline, b.cost_usd) == (
        "wine",
        "greedy",
        0.3,
        "score",
        None,
        None,
    )


def test_mlgym_run_best_last_and_costs(tmp_path: Path, mlgym_run) -> None:
    mlgym_run(
        tmp_path,
        "gpt4o",
        "3SATTime",
        3,
        agent=[{"Time": 14.0}, {"Time": 12.5}, {"Other": 1}, {"Time": 13.0}],
        baseline={"Time": 16.0},
        cost=1.25,
        tokens=(5000, 700),
        exec_times=[1.5, 2.0, 0.25],
    )
    (r,) = load_runs([tmp_path]).records
    # min task: best attempt = min(14.0, 12.5, 13.0) = 12.5; last = 13.0 (the entry lacking
    # Time is skipped for best, and is not last).
    assert (r.source, r.method, r.task_id, r.seed) == ("mlgym", "gpt4o", "3SATTime", 3)
    assert (r.metric, r.direction, r.best, r.last, r.baseline) == ("Time", "min", 12.5, 13.0, 16.0)
    assert (r.cost_usd, r.prompt_tokens, r.completion_tokens, r.model_calls) == (1.25, 5000, 700, 3)
    assert r.wall_seconds == pytest.approx(3.75)  # 1.5 + 2.0 + 0.25
    assert r.reference is None


def test_mlgym_run_whose_last_entry_lacks_the_metric_has_no_last(tmp_path: Path, mlgym_run) -> None:
    mlgym_run(tmp_path, "m", "blotto", 0, agent=[{"Score": 0.3}, {"Other": 2.0}])
    mlgym_run(tmp_path, "n", "blotto", 0, agent=[{"Other": 2.0}])
    mlgym_run(tmp_path, "o", "blotto", 0, agent=None, baseline=None)
    m, n, o = load_runs([tmp_path]).records
    assert (m.best, m.last) == (0.3, None)
    assert (n.best, n.last) == (None, None)
    assert (o.best, o.last, o.baseline) == (None, None, None)


def test_unknown_task_and_malformed_json_are_skipped_with_warnings(
    tmp_path: Path, mlgym_run
) -> None:
    mlgym_run(tmp_path, "a", "blotto", 0, agent=[{"Score": 0.1}])
    mlgym_run(tmp_path, "a", "someNewTask", 0, agent=[{"acc": 0.1}])
    mlgym_run(tmp_path, "a", "someNewTask", 1, agent=[{"acc": 0.1}])
    bad = mlgym_run(tmp_path, "b", "blotto", 0, agent=[{"Score": 0.1}])
    (bad / "results.json").write_text("{not json")
    broken_rgym = tmp_path / "rgym-run"
    broken_rgym.mkdir()
    (broken_rgym / "result.json").write_text('{"task_id": ')
    loaded = load_runs([tmp_path])
    assert [r.method for r in loaded.records] == ["a"]
    text = "\n".join(loaded.warnings)
    assert "2 MLGym run(s) of unknown task 'someNewTask'" in text
    assert str(bad / "results.json") in text
    assert str(broken_rgym / "result.json") in text


def test_empty_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "nothing" / "here").mkdir(parents=True)
    with pytest.raises(NoRunsFound, match="No runs found under") as info:
        load_runs([tmp_path])
    assert str(tmp_path) in str(info.value)


def test_only_unusable_runs_is_also_no_runs_found(tmp_path: Path, mlgym_run) -> None:
    mlgym_run(tmp_path, "a", "someNewTask", 0, agent=[{"acc": 0.1}])
    with pytest.raises(NoRunsFound, match="someNewTask"):
        load_runs([tmp_path])


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RunsPathNotFound, match="does not exist"):
        load_runs([tmp_path / "absent"])


def test_walk_is_sorted_recursive_does_not_enter_runs_and_dedups(
    tmp_path: Path, rgym_run, mlgym_run
) -> None:
    outer = rgym_run(tmp_path / "b", "run")
    rgym_run(outer / "workspace", "nested")  # inside a run: not a separate run
    mlgym_run(tmp_path / "a" / "deep", "m", "blotto", 0, agent=[])
    found = [p for _, p in find_run_dirs([tmp_path, tmp_path / "b"])]
    assert [p.relative_to(tmp_path).parts[0] for p in found] == ["a", "b"]
    assert len(found) == 2


# --- symlinked run folders ------------------------------------------------------------------


def test_symlinked_run_folders_are_read_once_and_cycles_end(
    tmp_path: Path, rgym_run, mlgym_run
) -> None:
    store = tmp_path / "store"
    rgym_run(store, "r1")
    mlgym_run(store, "gpt4o", "blotto", 0, agent=[{"Score": 0.2}], baseline={"Score": -0.25})
    pick = tmp_path / "pick"
    pick.mkdir()
    (pick / "r1").symlink_to(store / "r1")
    (pick / "loop").symlink_to(pick)  # a cycle
    (pick / "renamed").symlink_to(next(store.glob("metagen-*")))  # not an MLGym name
    records = load_runs([pick]).records
    assert sorted((r.source, r.task_id) for r in records) == [
        ("mlgym", "blotto"),
        ("rgym", "titanic"),
    ]
    assert next(r for r in records if r.source == "mlgym").best == 0.2
    assert len(load_runs([pick, store]).records) == 2  # each real run once


# --- rgym and MLGym ids of the same task ----------------------------------------------------


def test_rgym_and_mlgym_runs_of_a_task_are_joined(tmp_path: Path, rgym_run, mlgym_run) -> None:
    mlgym_run(tmp_path, "gpt4o", "battleOfSexes", 0, [{"Score": 1.2}], {"Score": 1.0227})
    rgym_run(
        tmp_path,
        "bos-rgym",
        task_id="battle-of-sexes",
        metric="Score",
        model="claude",
        test_score=1.43,
        baseline_score=1.02,
        reference_score=1.44,
    )
    rgym_run(tmp_path, "bos-imported", task_id="mlgym/battleOfSexes", metric="Score", model="o1")
    loaded = load_runs([tmp_path])
    assert {r.task_id for r in loaded.records} == {"battle-of-sexes"}
    assert {r.original_task_id for r in loaded.records} == {
        None,
        "battleOfSexes",
        "mlgym/battleOfSexes",
    }
    joined = "joined tasks battle-of-sexes, battleOfSexes, mlgym/battleOfSexes as"
    assert any(joined in n for n in loaded.notes)
    report = build_report([tmp_path], n_resamples=50)
    assert list(report.tasks.index) == ["battle-of-sexes"]
    assert report.tasks.loc["battle-of-sexes", "n_runs"] == 3
    assert set(report.best_attempt.columns) == {"gpt4o", "claude", "o1", "baseline"}
    assert any("joined tasks" in n for n in report.notes)


def test_without_an_rgym_run_mlgym_ids_are_kept(tmp_path: Path, rgym_run, mlgym_run) -> None:
    mlgym_run(tmp_path, "gpt4o", "battleOfSexes", 0, [{"Score": 1.2}], {"Score": 1.0227})
    rgym_run(tmp_path, "imported", task_id="mlgym/battleOfSexes", metric="Score", model="o1")
    rgym_run(tmp_path, "titanic-run")  # another task: nothing to join
    loaded = load_runs([tmp_path])
    assert sorted({r.task_id for r in loaded.records}) == ["battleOfSexes", "titanic"]


def test_tasks_scored_by_other_metrics_or_variants_stay_apart(
    tmp_path: Path, rgym_run, mlgym_run
) -> None:
    mlgym_run(tmp_path, "gpt4o", "3SATTime", 0, [{"Time": 12.0}], {"Time": 16.0})
    rgym_run(tmp_path, "sat", task_id="sat-heuristic", metric="decisions", direction="min")
    mlgym_run(tmp_path, "gpt4o", "blotto", 0, [{"Score": 0.1}], {"Score": -0.25})
    rgym_run(tmp_path, "tiny", task_id="blotto", variant="tiny", metric="Score")
    loaded = load_runs([tmp_path])
    assert sorted({r.task_id for r in loaded.records}) == [
        "3SATTime",
        "blotto",
        "blotto:tiny",
        "sat-heuristic",
    ]
    assert any("not joined: 3SATTime (Time, min)" in n for n in loaded.notes)
