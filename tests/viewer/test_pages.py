"""The viewer's pages and JSON through Starlette's TestClient: what each page shows."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from rgym.metrics.render import render_json
from rgym.metrics.report import build_report
from rgym.viewer.app import create_app
from rgym.viewer.export import ExportRefused, export
from rgym.viewer.site import Site
from rgym.viewer.transcript import STEPS_PER_PAGE
from tests.viewer.conftest import cell, write_batch, write_mlgym_run, write_rgym_run


def client(*roots: Path) -> TestClient:
    return TestClient(create_app(Site(list(roots))))


def test_the_runs_page_lists_every_run_with_its_numbers(runs_root):
    write_rgym_run(runs_root, "live-one", model="model-c", finished=False)
    page = client(runs_root).get("/")
    assert page.status_code == 200
    html = page.text
    assert html.count('<tr class="run') == 5
    assert "titanic__a__s0" in html and "model-a" in html and "model-b" in html
    assert ">0.81<" in html and ">0.85<" in html  # test scores
    assert 'data-status="running"' in html and "st-running" in html  # in progress: marked
    assert "$0.0300" in html  # cost of a run with model calls
    for select in ("f-task", "f-model", "f-status"):
        assert f'id="{select}"' in html


def test_batches_are_grouped_with_queued_cells_and_attempts_left_out(tmp_path):
    batch = write_batch(tmp_path, "sweep-7", [cell("r0"), cell("r1", seed=1), cell("r2", seed=2)])
    write_rgym_run(batch / "runs", "r0")
    write_rgym_run(batch / "runs", "r1", seed=1, finished=False)
    write_rgym_run(batch / "attempts" / "r0", "attempt-1", exit_status="interrupted", test=None)
    (batch / "state.jsonl").write_text(
        json.dumps({"type": "planned", "backend": "local", "workers": 4})
        + "\n"
        + json.dumps({"type": "stop", "reason": "cost"})
        + "\n{torn"
    )
    html = client(tmp_path).get("/").text
    group = html[html.index('data-group="batch:') :]
    assert "batch sweep-7" in group and "3 cells" in group
    assert "local backend, 4 workers" in group and "stopped: cost" in group
    assert "1 submitted" in group and "1 running" in group and "1 queued" in group
    assert html.count('<tr class="run') == 3  # the attempt is not a row
    assert "titanic/demo/s2" in html  # the queued cell

    run = client(tmp_path).get("/run/r0").text
    assert "Earlier attempts" in run and "attempt 1" in run and "interrupted" in run
    attempt = client(tmp_path).get("/run/r0.attempt-1").text
    assert "never counted" in attempt and 'href="/run/r0"' in attempt

    board = client(tmp_path).get("/api/leaderboard.json").json()
    assert len(board["tables"]["runs"]) == 1  # r0 only: no attempt, no running run


def test_a_run_page_shows_its_steps_calls_result_integrity_and_artefact(runs_root):
    html = client(runs_root).get("/run/titanic__a__s0").text
    for step in range(1, 7):
        assert f'id="step-{step}"' in html
    assert "discussion" in html and "Look at the data first." in html
    assert "ls -la  # step 1" in html and "baseline.py" in html
    assert "1,000 in / 50 out" in html and "$0.0100" in html and "1.50 s" in html  # model call
    assert "dev evaluation" in html and "test evaluation" in html
    result = html[html.index('id="result"') : html.index('id="integrity"')]
    assert "submitted" in result and "0.8" in result and "normalised score" in result
    integrity = html[html.index('id="integrity"') : html.index('id="spend"')]
    assert "isolated" in integrity and "yes" in integrity and "abababab" in integrity
    artefact = html[html.index('id="artifact"') :]
    assert '<table class="csv">' in artefact and "<th>PassengerId</th>" in artefact
    assert 'id="fig-score"' in html and 'id="fig-budget"' in html


def test_code_is_highlighted_and_folders_are_listed(tmp_path):
    write_rgym_run(
        tmp_path,
        "code",
        artifact={"model/train.py": "import os\nprint(os.sep)\n", "model/weights.bin": "\x00\x01"},
    )
    html = client(tmp_path).get("/run/code").text
    assert "model/train.py" in html and "model/weights.bin" in html and ">dir<" in html
    assert 'class="hl"' in html and '<span class="kn">import</span>' in html
    assert "A binary file: not shown." in html


def test_long_outputs_fold_to_head_and_tail(tmp_path):
    lines = "\n".join(f"line {i}" for i in range(1, 501))
    write_rgym_run(tmp_path, "long", observation=lines, steps=1)
    html = client(tmp_path).get("/run/long").text
    fold = html[html.index('<div class="fold output">') :]
    head, tail = fold.index('class="head"'), fold.index('class="tail"')
    assert "line 1\n" in fold[head:tail] and "line 500" in fold[tail:]
    assert "470 more lines: show all" in fold


def test_errors_and_typed_exit_statuses_stand_out(tmp_path):
    write_rgym_run(
        tmp_path,
        "broken",
        exit_status="agent_error",
        test=None,
        extra_events=[("error", {"kind": "agent_error", "message": "boom: it broke"})],
    )
    client_ = client(tmp_path)
    html = client_.get("/run/broken").text
    problems = html[html.index('id="problems"') :]
    assert 'class="lv-error"' in problems and "boom: it broke" in problems
    assert 'class="ev ev-error lv-error"' in html
    assert '<tr class="lv-error"><th>exit status</th><td>agent_error</td>' in html
    assert re.search(r'badge st-error"[^>]*>agent_error<', client_.get("/").text)


def test_long_runs_are_paged_and_the_charts_cover_all_steps(tmp_path):
    write_rgym_run(tmp_path, "long", steps=450, dev=[0.5, 0.6])
    c = client(tmp_path)
    first, third = c.get("/run/long").text, c.get("/run/long?page=3").text
    assert 'id="step-1"' in first and f'id="step-{STEPS_PER_PAGE + 1}"' not in first
    assert 'id="step-401"' in third and 'id="step-453"' in third and 'id="step-1"' not in third
    assert "?page=2" in first
    figure = json.loads(re.search(r'id="fig-score">(.*?)</script>', first).group(1))
    assert figure["data"][0]["x"] == [451, 452]  # the validates on the last page
    assert c.get("/run/long?page=4").status_code == 404
    assert c.get("/run/long?page=x").status_code == 404


def test_an_mlgym_run_renders_its_trajectory(tmp_path):
    run = write_mlgym_run(tmp_path, thought="DISCUSSION\nRead the strategy file first.")
    html = client(tmp_path).get(f"/run/{run.name}").text
    assert "MLGym run" in html and "battleOfSexes" in html
    assert "Read the strategy file first." in html and "cat strategy.py" in html
    assert 'id="step-4"' in html and "system prompt" in html and "You are an agent." in html
    assert "dev evaluation" in html and "test evaluation" in html
    assert "best attempt Score" in html and "1.3" in html


def test_compare_shows_two_runs_and_the_artefact_diff(tmp_path):
    write_rgym_run(tmp_path, "one", artifact={"strategy.py": "def f():\n    return 0\n"})
    write_rgym_run(
        tmp_path, "two", model="other", artifact={"strategy.py": "def f():\n    return 1\n"}
    )
    html = client(tmp_path).get("/compare?a=one&b=two").text
    assert '<tr class="differ"><th>model</th><td>demo</td><td>other</td>' in html
    assert '<span class="d-del">-    return 0</span>' in html
    assert '<span class="d-add">+    return 1</span>' in html
    assert client(tmp_path).get("/compare?a=one&b=nope").status_code == 404


def test_the_leaderboard_shows_the_numbers_rgym_report_computes(runs_root):
    c = client(runs_root)
    html = c.get("/leaderboard").text
    assert "Best Attempt@k (MLGym)" in html and "AUP (MLGym)" in html
    assert "Normalised score over tasks" in html and "Cost per run and score vs cost" in html
    for fig in ("profiles", "normalised", "cost"):
        assert f'id="fig-{fig}"' in html
    dirs = sorted(p for p in runs_root.iterdir())
    assert c.get("/api/leaderboard.json").text == render_json(build_report(dirs))
    chosen = c.get("/api/leaderboard.json?model=model-a").json()
    assert {r["method"] for r in chosen["tables"]["runs"]} == {"model-a"}
    assert "the 2 finished runs the filter selects" in c.get("/leaderboard?model=model-a").text


def test_the_leaderboard_says_so_when_no_run_has_finished(tmp_path):
    write_rgym_run(tmp_path, "running", finished=False)
    c = client(tmp_path)
    assert "No finished runs are selected" in c.get("/leaderboard").text
    assert c.get("/api/leaderboard.json").status_code == 404


def test_json_endpoints_give_summaries_and_records(runs_root):
    c = client(runs_root)
    runs = c.get("/api/runs.json").json()["runs"]
    assert [r["id"] for r in runs] == [
        "titanic__a__s0",
        "titanic__a__s1",
        "titanic__b__s0",
        "titanic__b__s1",
    ]
    record = c.get("/api/run/titanic__b__s1.json").json()
    assert record["summary"]["test_score"] == 0.85 and record["manifest"]["model"] == "model-b"
    assert record["result"]["exit_status"] == "submitted"


def test_the_export_is_a_static_bundle_with_relative_links(runs_root, tmp_path):
    out = tmp_path / "site"
    result = export(Site([runs_root]), out)
    assert result.runs == 4
    index = (out / "index.html").read_text()
    assert 'href="run/titanic__a__s0.html"' in index and 'href="/' not in index
    run = (out / "run" / "titanic__a__s0.html").read_text()
    assert 'href="../index.html"' in run and 'src="../assets/plotly.min.js"' in run
    assert "data-live-url" not in run and 'href="/' not in run
    assert (out / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    dirs = sorted(p for p in runs_root.iterdir())
    assert (out / "leaderboard.json").read_text() == render_json(build_report(dirs))
    assert json.loads((out / "run" / "titanic__a__s0.json").read_text())["summary"]["seed"] == 0
    export(Site([runs_root]), out)  # an earlier bundle may be written over


def test_the_export_never_writes_over_a_folder_it_did_not_make(runs_root, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ExportRefused, match="is not an earlier `rgym view --export` bundle"):
        export(Site([runs_root]), tmp_path / "mine")
    assert os.listdir(tmp_path / "mine") == ["notes.txt"]


def test_the_runs_page_follows_the_disk(tmp_path, monkeypatch):
    import rgym.viewer.site as site_module

    monkeypatch.setattr(site_module, "SCAN_TTL", 0.0)  # walk on every request
    c = client(tmp_path)
    write_rgym_run(tmp_path, "one", finished=False)
    first = c.get("/").text
    assert 'data-status="running"' in first and c.get("/").text == first
    write_rgym_run(tmp_path, "two")
    second = c.get("/").text
    assert 'data-id="two"' in second and 'data-status="finished"' in second
    (tmp_path / "two" / "result.json").unlink()  # as if "two" were still running
    assert 'data-status="finished"' not in c.get("/").text
