"""Whole reports: mixed rgym + MLGym runs, writing md/csv/json and plots, the CLI function."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from rgym.metrics import build_report, render_markdown, report_command, write_report
from rgym.metrics.runs import NoRunsFound


@pytest.fixture
def mixed(tmp_path: Path, small_pool: Path, rgym_run) -> Path:
    root = small_pool.parent  # the MLGym pool from conftest.build_small_pool is root / "mlgym"
    # rgym titanic: baseline 0.77, reference 0.82 (max). Last (= test) scores per seed:
    #   demo-actions: 0.795 -> (0.795-0.77)/0.05 = 0.5; 0.82 -> 1.0; failed -> counts 0
    #   replay (model null): 0.76 -> (0.76-0.77)/0.05 = -0.2
    rgym_run(root / "rgym", "t-s0", seed=0, test_score=0.795)
    rgym_run(root / "rgym", "t-s1", seed=1, test_score=0.82)
    rgym_run(root / "rgym", "t-s2", seed=2, test_score=None, exit_status="error")
    rgym_run(root / "rgym", "t-s3", seed=0, model=None, test_score=0.76)
    return root


def test_mixed_report(mixed: Path) -> None:
    report = build_report([mixed / "mlgym", mixed / "rgym"])
    assert len(report.runs) == 13
    assert list(report.tasks.index) == [
        "3SATTime",
        "blotto",
        "regressionKaggleHousePrice",
        "titanic",
    ]
    assert list(report.best_attempt.columns) == [
        "claude",
        "demo-actions",
        "gpt4o",
        "llama",
        "replay",
        "baseline",
    ]
    assert report.best_attempt.loc["titanic", "demo-actions"] == 0.82
    assert report.last.loc["titanic", "baseline"] == 0.77

    norm = report.normalised.set_index(["method", "task"])
    # Only titanic has a reference: MLGym tasks are omitted, with a note.
    assert set(norm.index.get_level_values("task")) == {"titanic"}
    demo = norm.loc[("demo-actions", "titanic")]
    assert (demo["n_runs"], demo["n_failed"]) == (3, 1)
    assert demo["mean"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert demo["ci_low"] <= demo["mean"] <= demo["ci_high"]
    assert norm.loc[("replay", "titanic"), "mean"] == pytest.approx(-0.2)
    assert any("without a baseline and reference" in n and "blotto" in n for n in report.notes)
    assert report.normalised_overall.loc["demo-actions", "mean"] == pytest.approx(0.5)

    success = report.success.set_index(["method", "task"])["success_rate"]
    assert success[("demo-actions", "titanic")] == pytest.approx(2 / 3)  # failed run: no success
    assert success[("replay", "titanic")] == 0.0
    # regressionKaggleHousePrice, baseline 0.80: gpt4o lasts 0.90, 0.86 beat it -> 1.0
    assert success[("gpt4o", "regressionKaggleHousePrice")] == 1.0
    # claude's last is missing there -> failure
    assert success[("claude", "regressionKaggleHousePrice")] == 0.0

    cost = report.cost
    # claude: 2 runs at $1.00 each; demo-actions: 3 runs at $0.01
    assert cost.loc["claude", "mean_cost_usd"] == 1.0
    assert cost.loc["demo-actions", "mean_cost_usd"] == pytest.approx(0.01)
    assert cost.loc["demo-actions", "mean_tokens"] == 1200
    assert "aup_best_attempt" in cost.columns and "normalised_mean" in cost.columns
    # The pool changed (titanic and two methods joined), so AUP differs from the 3-task pool:
    assert report.aup.loc["gpt4o", "aup_best_attempt"] != 0.599


def test_render_markdown_has_every_section(mixed: Path) -> None:
    text = render_markdown(build_report([mixed]))
    for heading in ("Best Attempt@k", "Best Submission@k", "AUP", "Rank summary", "Normalised"):
        assert f"## {heading}" in text
    assert "| gpt4o |" in text and "## Notes" in text


def test_write_report_all_formats(mixed: Path, tmp_path: Path) -> None:
    report = build_report([mixed])
    md = write_report(report, tmp_path / "md", "md")
    names = {p.name for p in md}
    for stem in ("performance_profiles", "aup_vs_cost", "score_distributions"):
        png, svg = tmp_path / "md" / f"{stem}.png", tmp_path / "md" / f"{stem}.svg"
        assert png.name in names and svg.name in names
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in svg.read_text()[:2000]
    assert (
        "![performance_profiles.png](performance_profiles.png)"
        in (tmp_path / "md" / "report.md").read_text()
    )

    (js,) = [p for p in write_report(report, tmp_path / "js", "json", plots=False)]
    data = json.loads(js.read_text())
    aup = {row["method"]: row["aup_best_attempt"] for row in data["tables"]["aup"]}
    assert aup == report.aup["aup_best_attempt"].to_dict()
    assert data["tau_max"] == report.tau_max

    csvs = write_report(report, tmp_path / "csv", "csv", plots=False)
    assert {p.name for p in csvs} >= {"aup.csv", "best_attempt.csv", "normalised.csv", "runs.csv"}
    back = pd.read_csv(tmp_path / "csv" / "best_attempt.csv", index_col="task")
    pd.testing.assert_frame_equal(back, report.best_attempt, check_names=False)

    with pytest.raises(ValueError, match="format"):
        write_report(report, tmp_path / "x", "xml")  # type: ignore[arg-type]


def capture() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


def test_report_command_prints_markdown(mixed: Path) -> None:
    console, buffer = capture()
    assert report_command([mixed], console=console) == 0
    assert "# rgym leaderboard report" in buffer.getvalue()


def test_report_command_json_to_stdout_is_valid_json(mixed: Path) -> None:
    console, buffer = capture()
    assert report_command([mixed], fmt="json", console=console) == 0
    assert json.loads(buffer.getvalue())["tau_max"] > 0


def test_report_command_csv_to_stdout_has_one_block_per_table(mixed: Path) -> None:
    console, buffer = capture()
    assert report_command([mixed], fmt="csv", console=console) == 0
    text = buffer.getvalue()
    assert "# aup\nmethod,aup_best_attempt,aup_last\n" in text
    assert "# runs" not in text  # long tables are only written to files


def test_report_command_writes_files(mixed: Path, tmp_path: Path) -> None:
    console, buffer = capture()
    assert report_command([mixed], fmt="csv", out=tmp_path / "o", console=console) == 0
    assert str(tmp_path / "o" / "aup.csv") in buffer.getvalue()


def test_report_command_empty_or_missing_paths_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    console, buffer = capture()
    assert report_command([tmp_path / "empty"], console=console) == 2
    assert "No runs found under" in buffer.getvalue()
    console, buffer = capture()
    assert report_command([tmp_path / "nope"], console=console) == 2
    assert "does not exist" in buffer.getvalue()
    console, buffer = capture()
    assert report_command([tmp_path], fmt="xml", console=console) == 2
    with pytest.raises(NoRunsFound):
        build_report([tmp_path / "empty"])


def test_all_runs_failed_still_reports(tmp_path: Path, mlgym_run) -> None:
    # No method has a usable score on the only task; baseline negative -> nothing feasible.
    mlgym_run(tmp_path, "a", "blotto", 0, agent=[{"x": 1}], baseline={"Score": -0.5})
    report = build_report([tmp_path])
    assert math.isnan(report.tau_max)
    assert any("no feasible method" in w for w in report.warnings)
    assert "rgym leaderboard report" in render_markdown(report)
