"""Attack: a provider (or a proxy in front of it) reports far more prompt tokens than rgym's local
estimate. Before the fix, four calls at $0.26 each were made under `--max-cost 1.0`."""

from __future__ import annotations

import json

from rgym.budget import Budget
from rgym.runs.runner import RunConfig, run
from tests.conftest import requires_bwrap
from tests.fake_llm import FakeLLM

pytestmark = requires_bwrap

QUICK = (
    'awk -F, \'NR == 1 {print "PassengerId,Survived"; next} '
    '{print $1 "," ($3 == "female")}\' data/test.csv > submission.csv'
)


def _inflated(cmd: str) -> dict:
    return {
        "content": f"Next.\n```\n{cmd}\n```",
        "usage": {"prompt_tokens": 100_000, "completion_tokens": 20},
    }


def test_inflated_prompt_usage_cannot_cross_the_cost_limit(tmp_path):
    price = {"input_cost_per_token": 2.6e-6, "output_cost_per_token": 1e-6, "max_tokens": 100}
    script = [_inflated(QUICK)] + [_inflated("ls")] * 20
    with FakeLLM(script) as llm:
        result = run(
            RunConfig(
                task="titanic",
                agent="default",
                model="fake",
                agent_options={
                    "api_base": llm.url + "/v1",
                    "retry": {"backoff_s": 0.01},
                    "completion_kwargs": price,
                },
                runs_dir=tmp_path / "runs",
                budget=Budget(max_cost_usd=1.0),
            )
        )
        requests = len(llm.requests)
    assert result.exit_status == "auto_submitted:cost"
    assert result.totals.cost_usd <= 1.0
    assert result.totals.model_calls == requests == 3  # $0.78 spent; a fourth could reach $1.04
    assert result.test_score is not None  # the artefact is still scored
    events = [json.loads(x) for x in (result.run_dir / "events.jsonl").read_text().splitlines()]
    refusal = [e for e in events if e["type"] == "budget"][-1]
    assert refusal["kind"] == "cost" and refusal["worst_case_call"] >= 0.26
