"""The ledger: worst-case checks before every attempt, retries, and totals equal to the events."""

from __future__ import annotations

import time

import pytest

from rgym.budget import Budget
from rgym.errors import BudgetExceeded
from rgym.models import Ledger, ModelError, RetryPolicy, ScriptedConfig, ScriptedModel

FAST = RetryPolicy(max_retries=3, backoff_s=0.001)
MSGS = [{"role": "user", "content": "x" * 400}]


class Sink:
    def __init__(self):
        self.events = []

    def __call__(self, type_, **data):
        self.events.append({"type": type_, **data})

    def calls(self):
        return [e for e in self.events if e["type"] == "model_call"]


def priced(responses, **kw):
    return ScriptedModel(
        responses, ScriptedConfig(input_cost_per_token=0.001, output_cost_per_token=0.002, **kw)
    )


def test_totals_are_the_sums_of_the_events_retries_included():
    sink = Sink()
    model = priced(
        [
            ModelError("429", "slow down", retryable=True),
            ModelError("500", "oops", retryable=True),
            "answer",
        ],
        max_output_tokens=10,
    )
    ledger = Ledger(Budget(), sink, retry=FAST)
    resp = ledger.query(model, MSGS, prompt_tokens=101, step=1)
    assert resp.content == "answer"
    calls = sink.calls()
    assert [c["outcome"] for c in calls] == ["retry:429", "retry:500", "ok"]
    assert [c["attempt"] for c in calls] == [1, 2, 3]
    totals = ledger.totals()
    assert totals["model_calls"] == 3
    for key in ("prompt_tokens", "completion_tokens", "cost_usd"):
        assert totals[key] == pytest.approx(sum(c[key] for c in calls))
    assert calls[-1]["content"] == "answer" and totals["cost_usd"] > 0


def test_errors_that_are_not_transient_are_not_retried():
    sink = Sink()
    model = priced([ModelError("auth", "bad key"), "never"])
    with pytest.raises(ModelError, match="bad key"):
        Ledger(Budget(), sink, retry=FAST).query(model, MSGS, prompt_tokens=1, step=1)
    assert [c["outcome"] for c in sink.calls()] == ["error:auth"]
    assert len(model.calls) == 1


def test_retries_are_bounded():
    sink = Sink()
    model = priced([ModelError("503", "down", retryable=True)] * 10)
    with pytest.raises(ModelError):
        Ledger(Budget(), sink, retry=FAST).query(model, MSGS, prompt_tokens=1, step=1)
    assert [c["outcome"] for c in sink.calls()] == ["retry:503"] * 3 + ["error:503"]


def test_a_call_whose_worst_case_crosses_the_cost_limit_is_not_made():
    sink = Sink()
    # worst case of one call: 100 prompt * 0.001 + 50 completion * 0.002 = 0.2
    model = priced(["a", "b", "c"], max_output_tokens=50)
    ledger = Ledger(Budget(max_cost_usd=0.35), sink)
    ledger.query(model, MSGS, prompt_tokens=100, step=1)
    ledger.query(model, MSGS, prompt_tokens=100, step=2)
    spent = ledger.cost_usd
    assert spent + 0.2 > 0.35
    with pytest.raises(BudgetExceeded) as e:
        ledger.query(model, MSGS, prompt_tokens=100, step=3)
    assert e.value.kind == "cost"
    assert len(model.calls) == 2 and ledger.cost_usd == spent <= 0.35
    assert sink.events[-1]["type"] == "budget" and sink.events[-1]["kind"] == "cost"


def test_retries_are_checked_against_the_budget_too():
    model = priced([ModelError("429", "x", retryable=True)] * 2 + ["ok"], max_output_tokens=50)
    ledger = Ledger(Budget(max_tokens=300), Sink(), retry=FAST)
    ledger.query(model, MSGS, prompt_tokens=100, step=1)  # failed attempts cost no tokens
    with pytest.raises(BudgetExceeded) as e:
        ledger.query(model, MSGS, prompt_tokens=200, step=2)
    assert e.value.kind == "tokens"


def test_the_token_limit_counts_prompt_and_completion_worst_case():
    model = priced(["a"], max_output_tokens=100)
    with pytest.raises(BudgetExceeded, match="tokens"):
        Ledger(Budget(max_tokens=150)).query(model, MSGS, prompt_tokens=60, step=1)
    assert model.calls == []


def test_backoff_never_sleeps_past_the_wall_clock():
    slept = []
    model = priced([ModelError("429", "x", retryable=True, retry_after=30)] * 3)
    ledger = Ledger(
        Budget(), Sink(), deadline=time.monotonic() + 1.0, retry=FAST, sleep=slept.append
    )
    with pytest.raises(BudgetExceeded) as e:
        ledger.query(model, MSGS, prompt_tokens=1, step=1)
    assert e.value.kind == "wall" and slept == []


def test_retry_after_is_honoured_and_backoff_grows():
    slept = []
    model = priced(
        [
            ModelError("429", "x", retryable=True, retry_after=0.5),
            ModelError("500", "x", retryable=True),
            ModelError("500", "x", retryable=True),
            "ok",
        ]
    )
    policy = RetryPolicy(max_retries=5, backoff_s=1.0)
    Ledger(Budget(), retry=policy, sleep=slept.append).query(model, MSGS, prompt_tokens=1, step=1)
    assert slept[0] == 0.5
    assert 1.0 <= slept[1] / 0.5 and slept[2] <= 4.0 and len(slept) == 3


def test_exhausted_reports_a_limit_reached_by_actual_usage():
    model = priced(
        [{"content": "big", "prompt_tokens": 500, "completion_tokens": 0}], max_output_tokens=1
    )
    ledger = Ledger(Budget(max_tokens=1000))
    ledger.query(model, MSGS, prompt_tokens=10, step=1)
    assert ledger.exhausted() is None
    ledger.budget = Budget(max_tokens=500)
    assert ledger.exhausted() == "tokens"
