"""Picking runs (--status, --min-score), skipping unreadable ones with a warning, failing
cleanly when nothing is left, writing atomically, and the command line."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from rgym.cli import app
from rgym.export.command import ExportError, ExportOptions, export_runs
from rgym.export.runs import status_matches
from rgym.runs.record import read_run

cli = CliRunner()


def run_ids(out) -> list[str]:
    return [json.loads(line)["metadata"]["run_id"] for line in out.read_text().splitlines()]


def test_status_and_min_score_pick_runs(runs, tmp_path):
    out = tmp_path / "a.jsonl"
    scores = {p.name: read_run(p)["result"]["normalised_score"] for p in runs.root.iterdir()}
    report = export_runs([runs.root], out, ExportOptions(kind="sft", statuses=["submitted"]))
    assert runs.unscorable.name not in run_ids(out) and report.left_out["status"] == 1
    cut = sorted(s for s in scores.values() if s is not None)[1]
    report = export_runs([runs.root], out, ExportOptions(kind="sft", min_score=cut))
    expected = {n for n, s in scores.items() if s is not None and s >= cut}
    assert set(run_ids(out)) == expected and report.left_out["score"] == 4 - len(expected)


def test_a_status_names_its_budget_kinds_too():
    assert status_matches("auto_submitted:steps", ["auto_submitted"])
    assert status_matches("auto_submitted:steps", ["auto_submitted:steps"])
    assert not status_matches("auto_submitted:steps", ["auto_submitted:cost", "submitted"])
    assert not status_matches(None, ["submitted"]) and status_matches(None, [])


def test_an_unreadable_run_is_skipped_with_a_warning_naming_it(runs, tmp_path):
    broken = runs.copy(runs.replay, tmp_path / "runs")
    (broken / "manifest.json").write_text("{not json")
    torn = runs.copy(runs.text, tmp_path / "runs")
    (torn / "events.jsonl").unlink()
    gone = runs.older(runs.tools, tmp_path / "runs")  # a recorded run needs no task to export
    manifest = json.loads((gone / "manifest.json").read_text())
    manifest["task"] = "no-such-task"
    (gone / "manifest.json").write_text(json.dumps(manifest))
    mangled = runs.copy(runs.tools, tmp_path / "more")
    lines = (mangled / "events.jsonl").read_text().splitlines()
    lines = [line.replace('"name": "bash"', '"name": 7') for line in lines]
    (mangled / "events.jsonl").write_text("\n".join(lines) + "\n")
    good = runs.copy(runs.unscorable, tmp_path / "runs")
    out = tmp_path / "a.jsonl"
    report = export_runs([tmp_path / "runs", tmp_path / "more"], out, ExportOptions(kind="sft"))
    assert run_ids(out) == [good.name]
    text = "\n".join(report.warnings)
    assert f"skipped {broken}: " in text and "manifest.json: not readable JSON" in text
    assert f"skipped {torn}: " in text and "events.jsonl is missing" in text
    assert f"skipped {gone}: " in text and "'no-such-task'" in text and "--tasks-dir" in text
    assert f"skipped {mangled}: malformed record (ValidationError" in text


def test_no_runs_or_none_left_is_a_clear_error_and_writes_nothing(runs, tmp_path):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "a.jsonl"
    with pytest.raises(ExportError, match="no runs under .*empty.*result.json"):
        export_runs([tmp_path / "empty"], out, ExportOptions(kind="sft"))
    out.write_text("the previous export\n")
    with pytest.raises(ExportError, match=r"of 4 found, 4 by --status\. Nothing was written"):
        export_runs([runs.root], out, ExportOptions(kind="sft", statuses=["nope"]))
    assert out.read_text() == "the previous export\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "empty"]  # no temp file
    with pytest.raises(ExportError, match="does not exist"):
        export_runs([tmp_path / "missing"], out, ExportOptions(kind="sft"))


@pytest.mark.parametrize(
    "kind, options, out, message",
    [
        ("sft", {"fmt": "episodes"}, "a.jsonl", "choose one of openai, trl, verl"),
        ("rl", {"fmt": "openai"}, "a.jsonl", "choose one of episodes, trl, verl"),
        ("sft", {"fmt": "verl"}, "a.jsonl", "name a .parquet --out file"),
        ("sft", {"fmt": "verl", "per_step": True}, "a.parquet", "drop --per-step"),
        ("sft", {}, "a.csv", "name a .jsonl or a .parquet file"),
    ],
)
def test_options_that_cannot_work_are_refused(runs, tmp_path, kind, options, out, message):
    with pytest.raises(ExportError, match=re.escape(message)):
        export_runs([runs.root], tmp_path / out, ExportOptions(kind=kind, **options))


def test_the_command_line(runs, tmp_path):
    result = cli.invoke(app, ["export", "sft", "--help"])
    assert result.exit_code == 0 and "rgym export sft runs/ --out sft.jsonl" in result.output
    assert "Examples" in cli.invoke(app, ["export", "rl", "--help"]).output
    out = tmp_path / "a.jsonl"
    args = ["export", "sft", str(runs.root), "--out", str(out), "--status", "submitted,nope"]
    result = cli.invoke(app, [*args, "--format", "trl", "--per-step"])
    assert result.exit_code == 0, result.output
    assert re.search(r"wrote \d+ rows from 3 of 4 runs to .*a\.jsonl; left out: 1 by --status",
                     result.output)  # fmt: skip
    result = cli.invoke(app, ["export", "rl", str(tmp_path / "nowhere"), "--out", str(out)])
    assert result.exit_code == 2 and "does not exist" in result.output
