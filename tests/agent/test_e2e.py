"""Whole episodes: the runner, the default agent, LiteLLM over HTTP to the fake server, a real
bwrap sandbox and the real titanic grader. Nothing of ours is mocked."""

from __future__ import annotations

import json
import time

import pytest

from rgym.budget import Budget
from tests.conftest import requires_bwrap
from tests.fake_llm import delay, status, tool_call

pytestmark = requires_bwrap


MODEL_PY = """import pandas as pd
from sklearn.linear_model import LogisticRegression


def featurize(df):
    x = pd.get_dummies(df["Pclass"].astype(str) + df["Sex"], dtype=float)
    x["child"] = (df["Age"] < 13).astype(float)
    x["boy"] = x["child"] * (df["Sex"] == "male")
    family = df["SibSp"] + df["Parch"]
    x["big_family"] = (family >= 4).astype(float)
    x["alone"] = (family == 0).astype(float)
    return x


train, test = pd.read_csv("data/train.csv"), pd.read_csv("data/test.csv")
x_train = featurize(train)
model = LogisticRegression(max_iter=1000).fit(x_train, train["Survived"])
pred = model.predict(featurize(test).reindex(columns=x_train.columns, fill_value=0.0))
pd.DataFrame({"PassengerId": test["PassengerId"], "Survived": pred}).to_csv(
    "submission.csv", index=False)
print("wrote submission.csv")
"""


QUICK = (
    'awk -F, \'NR == 1 {print "PassengerId,Survived"; next} '
    '{print $1 "," ($3 == "female")}\' data/test.csv > submission.csv'
)
"""A valid artefact in milliseconds ("women survived"), for tests about everything else."""


def block(cmd: str, thought: str = "Next step.") -> str:
    return f"{thought}\n```\n{cmd}\n```"


GOOD = [
    block("ls -la", "Look at the workspace first."),
    block("open baseline.py"),
    block("python baseline.py", "Run the baseline to have an artefact."),
    block("validate"),
    block("create model.py", "Class-by-sex groups, children and family size."),
    block(f"edit 1:1\n{MODEL_PY}end_of_edit"),
    block("python model.py"),
    block("validate"),
    block("submit", "Better than the baseline on dev; submit."),
]


def test_a_good_episode_edits_trains_validates_and_beats_the_baseline(episode):
    ep = episode(GOOD)
    r = ep.result
    assert r.exit_status == "submitted", r.message
    assert r.test_score > r.baseline_score  # the baseline measured on this test set
    assert len(r.dev_scores) == 2 and r.dev_scores[1] > r.dev_scores[0]
    assert (r.run_dir / "artifact" / "submission.csv").exists()
    # the ledger: one event per call, and result.json's totals are their sums
    assert r.totals.model_calls == len(GOOD) == len(ep.llm.requests)
    sums = ep.ledger_sums()
    assert sums["model_calls"] == r.totals.model_calls
    assert sums["prompt_tokens"] == r.totals.prompt_tokens > 0
    assert sums["completion_tokens"] == r.totals.completion_tokens > 0
    assert ep.of("model_call")[0]["outcome"] == "ok" and ep.of("thought")
    assert "def featurize(df):" in ep.of("action")[5]["action"]
    # what the model saw: the system prompt with the tool docs; footers with budget and state
    first = ep.llm.requests[0]["body"]["messages"]
    assert first[0]["role"] == "system" and "end_of_edit" in first[0]["content"]
    assert "Titanic" in first[1]["content"]
    assert "(Step 0 of 50; 50 steps left" in first[1]["content"]
    later = ep.llm.requests[5]["body"]["messages"][-1]["content"]
    assert "(Open file: /home/agent/workspace/model.py)" in later
    assert "(Current directory: /home/agent/workspace)" in later
    assert ep.manifest()["agent"] == "default" and ep.manifest()["model"] == "openai/fake"


def test_unusable_replies_are_reasked_then_end_the_episode_typed(episode):
    bad = [
        "I think we should run the baseline.",  # no block
        block("ls") + "\n" + block("pwd"),  # two blocks
        "```\nls",  # unclosed
        block("vim baseline.py"),
    ]  # interactive
    ep = episode([block(QUICK), *bad, block("submit")], max_reasks=3)
    r = ep.result
    assert r.exit_status == "auto_submitted:format_error"
    assert r.test_score is not None  # the artefact was scored
    assert r.totals.model_calls == 5 == len(ep.llm.requests)  # re-asks are charged
    assert [e["reask"] for e in ep.of("format_error")] == [1, 2, 3, 4]
    err = ep.of("error")[-1]
    assert err["kind"] == "format_error" and "interactive" in err["message"]
    reask = ep.llm.requests[2]["body"]["messages"]
    assert reask[-2] == {"role": "assistant", "content": bad[0]}
    assert "no command block" in reask[-1]["content"]
    assert "2 more unusable replies" in ep.llm.requests[3]["body"]["messages"][-1]["content"]


def test_a_reask_that_succeeds_goes_on_and_the_error_is_not_kept(episode):
    ep = episode(["no block", block(QUICK), block("submit")])
    assert ep.result.exit_status == "submitted"
    last = ep.llm.requests[-1]["body"]["messages"]
    assert all("no command block" not in (m["content"] or "") for m in last)


def test_rate_limits_and_server_errors_are_retried_and_counted(episode):
    ep = episode(
        [
            status(429, headers={"Retry-After": "0"}),
            block(QUICK),
            status(500),
            status(503),
            block("submit"),
        ]
    )
    r = ep.result
    assert r.exit_status == "submitted"
    outcomes = [e["outcome"] for e in ep.of("model_call")]
    assert outcomes == ["retry:429", "ok", "retry:500", "retry:503", "ok"]
    assert r.totals.model_calls == 5 == ep.ledger_sums()["model_calls"]
    assert [e["attempt"] for e in ep.of("model_call")] == [1, 2, 1, 2, 3]


def test_an_auth_error_is_not_retried_and_ends_the_episode(episode):
    ep = episode([block(QUICK), status(401, "invalid api key")])
    r = ep.result
    assert r.exit_status == "auto_submitted:model_error"
    assert r.test_score is not None
    assert [e["outcome"] for e in ep.of("model_call")] == ["ok", "error:auth"]
    assert "invalid api key" in ep.of("error")[-1]["message"]


def test_a_slow_model_is_stopped_by_the_wall_clock_budget(episode):
    start = time.monotonic()
    ep = episode([block(QUICK), delay(60, block("submit"))], budget=Budget(max_wall_seconds=4))
    assert time.monotonic() - start < 20
    r = ep.result
    assert r.exit_status == "auto_submitted:wall"
    assert r.test_score is not None
    calls = ep.of("model_call")
    assert calls[-1]["outcome"] == "error:timeout" and r.totals.model_calls == len(calls)


def test_the_cost_budget_stops_the_run_before_a_call_could_cross_it(episode):
    price = {"input_cost_per_token": 1e-5, "output_cost_per_token": 1e-4, "max_tokens": 200}
    script = [block(QUICK)] + [block("ls")] * 30
    ep = episode(script, budget=Budget(max_cost_usd=0.15), completion_kwargs=price)
    r = ep.result
    assert r.exit_status == "auto_submitted:cost"
    assert r.test_score is not None
    sums = ep.ledger_sums()
    assert 0 < sums["cost_usd"] <= 0.15
    assert r.totals.cost_usd == pytest.approx(sums["cost_usd"])
    assert r.totals.model_calls == sums["model_calls"] == len(ep.llm.requests) < 30
    refusal = ep.of("budget")[-1]
    assert refusal["kind"] == "cost" and refusal["used"] + refusal["worst_case_call"] > 0.15
    for call in ep.of("model_call"):
        assert call["cost_usd"] == pytest.approx(
            call["prompt_tokens"] * 1e-5 + call["completion_tokens"] * 1e-4
        )


def test_the_token_budget_holds_too(episode):
    ep = episode(
        [block(QUICK)] + [block("ls")] * 30,
        budget=Budget(max_tokens=12_000),
        completion_kwargs={"max_tokens": 100},
    )
    r = ep.result
    assert r.exit_status == "auto_submitted:tokens"
    assert ep.of("budget")[-1]["kind"] == "tokens"
    assert r.totals.prompt_tokens + r.totals.completion_tokens <= 12_000


def test_the_tool_calling_protocol(episode):
    script = [
        tool_call("bash", command=QUICK),
        tool_call("open", path="baseline.py", line_number=5),
        tool_call("create", path="model.py"),
        tool_call("edit", start_line=1, end_line=1, replacement_text=MODEL_PY),
        tool_call("bash", command="python model.py"),
        tool_call("validate"),
        {"content": "thinking", "tool_calls": []},  # no tool call: re-asked
        tool_call("submit"),
    ]
    ep = episode(script, protocol="tools")
    r = ep.result
    assert r.exit_status == "submitted" and r.test_score > r.baseline_score
    body = ep.llm.requests[1]["body"]
    names = [t["function"]["name"] for t in body["tools"]]
    assert {"bash", "open", "edit", "insert", "validate", "submit"} <= set(names)
    edit = next(t for t in body["tools"] if t["function"]["name"] == "edit")
    assert edit["function"]["parameters"]["required"] == [
        "start_line",
        "end_line",
        "replacement_text",
    ]
    msgs = ep.llm.requests[2]["body"]["messages"]
    assert msgs[-2]["role"] == "assistant" and msgs[-2]["tool_calls"][0]["id"] == "call_open"
    assert msgs[-1]["role"] == "tool" and msgs[-1]["tool_call_id"] == "call_open"
    assert "[File: /home/agent/workspace/baseline.py" in msgs[-1]["content"]
    assert ep.of("action")[3]["action"].startswith("edit 1:1 << 'end_of_edit'\n")
    assert [e["reason"] for e in ep.of("format_error")] == [
        "your reply called no tool. Call exactly one tool (use `bash` for a shell command)."
    ]


def test_a_long_history_is_elided_to_fit_the_context_window(episode):
    big = "python -c \"print('x' * 7000)\""
    ep = episode(
        [block(QUICK)] + [block(big)] * 8 + [block("submit")],
        context_window=6000,
        completion_kwargs={"max_tokens": 500},
        max_observation_chars=8000,
    )
    r = ep.result
    assert r.exit_status == "submitted"
    limit = 6000 - 500
    for req in ep.llm.requests:
        text = "".join(m["content"] or "" for m in req["body"]["messages"])
        assert len(text) // 4 <= limit
    last = json.dumps(ep.llm.requests[-1]["body"]["messages"])
    assert "Old output omitted" in last
    assert ep.llm.requests[-1]["body"]["messages"][1]["content"].startswith("# Task: Titanic")


def test_a_context_overflow_reported_by_the_server_is_handled_by_eliding_more(episode):
    overflow = status(
        400,
        "This model's maximum context length is 4096 tokens",
        err_code="context_length_exceeded",
    )
    big = "python -c \"print('y' * 4000)\""
    ep = episode(
        [block(big), block(big), block(big), overflow, block(QUICK), block("submit")],
        history_keep=5,
    )
    r = ep.result
    assert r.exit_status == "submitted"
    outcomes = [e["outcome"] for e in ep.of("model_call")]
    assert "error:context_window" in outcomes
    retried = ep.llm.requests[4]["body"]["messages"]
    before = ep.llm.requests[3]["body"]["messages"]
    assert len(json.dumps(retried)) < len(json.dumps(before))
