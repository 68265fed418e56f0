"""End to end in a real browser: headless Debian chromium (Playwright's Python API) against a
real uvicorn server on 127.0.0.1. Skipped with the reason when /usr/bin/chromium is missing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rgym.runs.record import RunRecord
from rgym.viewer.export import export
from rgym.viewer.filters import RunFilter
from rgym.viewer.site import Site
from tests.viewer.conftest import XSS, write_mlgym_run
from tests.viewer.test_security import hostile_runs

LIVE_DEADLINE_S = 2.0


@pytest.fixture(scope="module")
def context(browser) -> Iterator[Any]:
    """One browser context for the module: its cache keeps plotly.js compiled between tests."""
    ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context) -> Iterator[Any]:
    """A fresh page that records console errors, page errors and dialogs."""
    p = context.new_page()
    p.problems = []
    p.on("console", lambda m: m.type == "error" and p.problems.append(m.text))
    p.on("pageerror", lambda e: p.problems.append(f"page error: {e}"))

    def dialog(d: Any) -> None:
        p.problems.append(f"dialog: {d.message}")
        d.dismiss()

    p.on("dialog", dialog)
    yield p
    p.close()


def visible_runs(page: Any) -> int:
    return page.locator("tr.run:visible").count()


def test_load_the_runs_page_filter_sort_open_a_run_and_compare(runs_root, serve, page):
    write_mlgym_run(runs_root)
    viewer = serve(runs_root)
    page.goto(viewer.url)
    assert visible_runs(page) == 5
    page.fill("#q", "model:model-a")
    page.wait_for_function("() => document.getElementById('shown').textContent === '2 shown'")
    assert visible_runs(page) == 2 and "q=model%3Amodel-a" in page.url
    rows = Site([runs_root]).rows()
    for query in (
        "s1",
        "TITANIC__B",
        "status:finished model-a",
        "exit:submit seed:0",
        "mlgym:",
        "battle default",
        "nothing-like-this",
    ):
        page.fill("#q", query)
        shown = {r.get_attribute("data-id") for r in page.locator("tr.run:visible").all()}
        assert shown == {r.id for r in RunFilter(q=query).select(rows)}, query  # as filters.py
    page.fill("#q", "")
    page.select_option("#f-task", "battleOfSexes")
    assert visible_runs(page) == 1
    page.select_option("#f-task", "")
    assert page.is_disabled("#compare")
    page.check("input.pick[value=titanic__a__s0]")
    page.check("input.pick[value=titanic__b__s0]")
    assert not page.is_disabled("#compare")
    page.click("th[data-key=test]")  # ascending: model-a's 0.80 first
    first = page.locator("tr.run:visible").first.get_attribute("data-id")
    assert first == "titanic__a__s0"
    page.click("th[data-key=test]")  # descending: the MLGym run's 1.3 first
    assert page.locator("tr.run:visible").first.get_attribute("data-id").startswith("metagen-")
    page.click("a:text('titanic') >> nth=0")
    page.wait_for_selector("section.step")
    assert page.locator("section.step[data-step]").count() == 6
    page.wait_for_selector("#plot-score .main-svg")  # the score chart is drawn
    page.go_back()
    page.click("#compare")  # the two runs ticked before
    page.wait_for_selector("table.compare-facts")
    assert "a=titanic__a__s0" in page.url and page.locator("tr.differ").count() > 0
    assert page.problems == []


def append_live(record: RunRecord, step: int) -> int:
    """Write one step's events; returns the seq of its observation."""
    record.event("thought", step=step, thought=f"live thought {step}")
    record.event("action", step=step, action=f"echo {step}")
    record.event("observation", step=step, observation=f"live output {step}", exit_code=0)
    return record._seq


def test_a_live_run_updates_within_two_seconds_of_a_write(tmp_path, serve, page):
    record = RunRecord(tmp_path / "live-run")
    record.write_manifest(
        {
            "task": "titanic",
            "variant": "default",
            "agent": "default",
            "model": "fake",
            "seed": 0,
            "sandbox": "bwrap",
        }
    )
    record.event("reset", seed=0, sandbox="bwrap", isolated=True)
    append_live(record, 1)
    viewer = serve(tmp_path)
    page.goto(f"{viewer.url}run/live-run")
    page.wait_for_function("() => document.getElementById('live-state').textContent === 'live'")
    latencies = []
    for step in (2, 3):
        start = time.monotonic()
        seq = append_live(record, step)
        page.wait_for_selector(f'.ev[data-seq="{seq}"]', timeout=LIVE_DEADLINE_S * 1000)
        latencies.append(time.monotonic() - start)
    assert max(latencies) < LIVE_DEADLINE_S
    assert page.locator("#step-3 .ev-observation").inner_text().endswith("live output 3")
    assert page.inner_text("#c-steps") == "3"
    record.event("action", step=4, action="validate")
    record.event("evaluation", step=4, split="dev", status="ok", score=0.9)
    page.wait_for_function(
        "() => document.getElementById('plot-score').data[0].y.includes(0.9)", timeout=2000
    )
    record.write_result({"exit_status": "submitted"})
    record.close()
    page.wait_for_selector("#finished:not([hidden])", timeout=3000)
    assert page.problems == []


def test_the_leaderboard_plots_are_drawn(runs_root, serve, page):
    viewer = serve(runs_root)
    page.goto(f"{viewer.url}leaderboard")
    page.wait_for_selector("#plot-profiles .main-svg")
    legend = page.locator("#plot-profiles .legend").text_content()
    assert "model-a (AUP" in legend and "model-b (AUP" in legend
    assert page.locator("#plot-profiles .scatterlayer .trace").count() == 6  # 3 methods x 2 views
    assert page.locator("#plot-normalised .bars .point").count() == 2
    assert page.locator("#plot-cost .main-svg").count() > 0
    assert page.problems == []


def open_every_fold(page: Any) -> None:
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")


def test_xss_payloads_stay_inert(tmp_path, serve, page):
    root = hostile_runs(tmp_path / "served")
    record = RunRecord(root / "runs" / "live-xss")
    record.write_manifest({"task": XSS[0], "model": XSS[1], "seed": 0})
    record.event("reset", seed=0)
    viewer = serve(root)
    for path in ["", "run/xss-run", "leaderboard", "run/live-xss"]:  # the server tests cover
        # every page's markup; here the browser runs the scripts that draw run content
        page.goto(viewer.url + path)
        page.wait_for_load_state("load")
        open_every_fold(page)
        page.wait_for_timeout(100)
        assert page.evaluate("typeof window.__xss") == "undefined", path
    # the live renderer too: payloads arriving over server-sent events
    page.wait_for_function("() => document.getElementById('live-state').textContent === 'live'")
    for payload in XSS:
        record.event("thought", step=1, thought=payload)
        record.event("observation", step=1, observation=payload * 30 + "\n" * 80 + payload)
        record.event(payload, step=1, message=payload)
    page.wait_for_selector(f'.ev[data-seq="{record._seq}"]', timeout=3000)
    open_every_fold(page)
    page.wait_for_timeout(200)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert XSS[1] in page.inner_text("#step-1")  # shown as text
    record.close()
    page.goto(viewer.url)
    assert XSS[0] in page.inner_text("table.runs")
    assert [p for p in page.problems if "dialog" in p] == []
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_the_static_export_opens_from_a_file(runs_root, tmp_path, page):
    out = tmp_path / "bundle"
    export(Site([runs_root]), out)
    page.goto((out / "index.html").as_uri())
    assert visible_runs(page) == 4
    page.fill("#q", "model-b")
    assert visible_runs(page) == 2
    page.click("tr.run:visible a >> nth=0")
    page.wait_for_selector("#plot-budget .main-svg")
    assert Path(page.url.removeprefix("file://")).parent == out / "run"
    page.click("text=Leaderboard")
    page.wait_for_selector("#plot-profiles .main-svg")
    assert page.problems == []  # no CSP violation, no missing file
