"""The viewer on runs the harness really made (bwrap sandbox, real graders): whatever the
runner writes, the pages read. A real run takes 7 to 25 s (the LLM agent's, against the fake
OpenAI-compatible server, longer), so these are marked slow; the default tests write runs with
`RunRecord`, the runner's own writer."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from rgym.metrics.render import render_json
from rgym.metrics.report import build_report
from rgym.runs.runner import RunConfig, run
from rgym.viewer.app import create_app
from rgym.viewer.site import Site
from tests.conftest import requires_bwrap
from tests.fake_llm import FakeLLM

pytestmark = [requires_bwrap, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    """battle-of-sexes with its demonstration replayed (about 7 s)."""
    runs = tmp_path_factory.mktemp("real-runs")
    result = run(RunConfig(task="battle-of-sexes", runs_dir=runs))
    assert result.exit_status == "submitted"
    return Path(result.run_dir)


def test_a_real_run_renders_step_by_step(demo_run):
    c = TestClient(create_app(Site([demo_run.parent])))
    runs = c.get("/").text
    assert demo_run.name in runs and "battle-of-sexes" in runs and "submitted" in runs
    html = c.get(f"/run/{demo_run.name}").text
    assert 'id="step-5"' in html and "Read the starter strategy." in html
    assert "cat strategy.py" in html and "def row_strategy" in html  # action and observation
    assert html.count("dev evaluation") == 2 and "test evaluation" in html
    assert "limits_in_force.memory_mb" in html and "key_fingerprint" in html  # integrity
    artefact = html[html.index('id="artifact"') :]
    assert "strategy.py" in artefact and '<span class="k">def</span>' in artefact
    board = c.get("/api/leaderboard.json").text
    assert board == render_json(build_report([demo_run]))


def test_an_llm_agent_run_shows_its_model_calls(tmp_path):
    script = [
        "DISCUSSION\nRead the strategy first.\n```\ncat strategy.py\n```",
        "no command block here",
        "DISCUSSION\nScore it.\n```\nvalidate\n```",
        "DISCUSSION\nDone.\n```\nsubmit\n```",
    ]
    with FakeLLM(script) as llm:
        result = run(
            RunConfig(
                task="battle-of-sexes",
                agent="default",
                model="openai/gpt-4o",
                runs_dir=tmp_path,
                agent_options={"api_base": llm.url + "/v1"},
            )
        )
    html = TestClient(create_app(Site([tmp_path]))).get(f"/run/{result.run_id}").text
    assert html.count("model call") >= 4 and "Read the strategy first." in html
    assert "unusable reply" in html and "your reply has no command block" in html
    assert f"${result.totals.cost_usd:.4f}" in html and " in / " in html and "latency" in html
