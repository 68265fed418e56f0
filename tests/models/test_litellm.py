"""The LiteLLM backend against a real local OpenAI-compatible server (tests/fake_llm.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rgym.budget import Budget
from rgym.errors import ConfigError
from rgym.models import Ledger, LiteLLMConfig, LiteLLMModel, ModelError, RetryPolicy
from tests.fake_llm import FakeLLM, delay, status, tool_call

MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]


@pytest.fixture
def llm():
    server = FakeLLM().start()
    yield server
    server.stop()


def model_for(server, **kw) -> LiteLLMModel:
    return LiteLLMModel(
        LiteLLMConfig(model=kw.pop("model", "fake"), api_base=server.url + "/v1", **kw)
    )


def test_a_bare_name_with_api_base_means_an_openai_compatible_server(llm):
    llm.script = ["hi!"]
    m = model_for(llm, temperature=0.2, top_p=0.9, completion_kwargs={"seed": 7})
    assert m.name == "openai/fake"
    resp = m.query(MSGS)
    assert resp.content == "hi!" and resp.prompt_tokens > 0 and resp.completion_tokens > 0
    assert resp.latency_s > 0 and resp.raw["choices"][0]["message"]["content"] == "hi!"
    body = llm.requests[0]["body"]
    assert body["model"] == "fake" and body["messages"] == MSGS
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9 and body["seed"] == 7


def test_a_server_model_name_with_a_slash_is_not_taken_for_a_provider(llm):
    llm.script = ["ok"]
    m = model_for(llm, model="meta-llama/Llama-3-8B")
    assert m.name == "openai/meta-llama/Llama-3-8B" and m.query(MSGS).content == "ok"
    assert llm.requests[0]["body"]["model"] == "meta-llama/Llama-3-8B"
    assert model_for(llm, model="hosted_vllm/x").name == "hosted_vllm/x"


def test_tool_calls_come_back_parsed(llm):
    llm.script = [tool_call("open", path="a.py", line_number=3)]
    tools = [{"type": "function", "function": {"name": "open", "parameters": {"type": "object"}}}]
    resp = model_for(llm).query(MSGS, tools)
    assert resp.tool_calls[0].name == "open"
    assert json.loads(resp.tool_calls[0].arguments) == {"path": "a.py", "line_number": 3}
    assert llm.requests[0]["body"]["tools"] == tools


def test_unknown_local_models_cost_nothing_with_a_note(llm):
    llm.script = ["x"]
    m = model_for(llm)
    assert not m.priced and "no price known" in m.price_note
    assert m.query(MSGS).cost_usd == 0.0


def test_a_custom_price_is_used_for_cost_and_the_worst_case(llm):
    llm.script = [{"content": "x", "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}]
    m = model_for(
        llm,
        completion_kwargs={
            "input_cost_per_token": 1e-4,
            "output_cost_per_token": 1e-3,
            "max_tokens": 50,
        },
    )
    assert m.priced and m.max_output_tokens == 50
    assert m.cost(10, 5) == pytest.approx(10 * 1e-4 + 5 * 1e-3)
    assert m.query(MSGS).cost_usd == pytest.approx(1000 * 1e-4 + 100 * 1e-3)


@pytest.mark.parametrize(
    "code, kind, retryable",
    [
        (429, "429", True),
        (500, "500", True),
        (503, "503", True),
        (401, "auth", False),
        (404, "not_found", False),
        (400, "bad_request", False),
    ],
)
def test_http_errors_are_classified(llm, code, kind, retryable):
    llm.script = [status(code)]
    with pytest.raises(ModelError) as e:
        model_for(llm).query(MSGS)
    assert e.value.kind == kind and e.value.retryable is retryable
    assert len(llm.requests) == 1  # litellm's own retries are off


def test_context_overflow_from_the_server_is_its_own_kind(llm):
    llm.script = [
        status(
            400,
            "This model's maximum context length is 10 tokens",
            err_code="context_length_exceeded",
        )
    ]
    with pytest.raises(ModelError) as e:
        model_for(llm).query(MSGS)
    assert e.value.kind == "context_window" and not e.value.retryable


def test_a_slow_answer_times_out_and_is_retryable(llm):
    llm.script = [delay(3, "late")]
    with pytest.raises(ModelError) as e:
        model_for(llm).query(MSGS, timeout=0.5)
    assert e.value.kind == "timeout" and e.value.retryable


def test_rate_limits_and_5xx_are_retried_through_the_ledger(llm):
    llm.script = [status(429, headers={"Retry-After": "0"}), status(500), "done"]
    events = []
    ledger = Ledger(Budget(), lambda t, **d: events.append(d), retry=RetryPolicy(backoff_s=0.01))
    assert ledger.query(model_for(llm), MSGS, prompt_tokens=10, step=1).content == "done"
    assert [e["outcome"] for e in events] == ["retry:429", "retry:500", "ok"]
    assert len(llm.requests) == 3


def test_unknown_model_without_api_base_fails_fast():
    with pytest.raises(ConfigError, match="unknown model 'no-such-model'.*--api-base"):
        LiteLLMModel(LiteLLMConfig(model="no-such-model"))


def test_a_missing_api_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set.*--api-base"):
        LiteLLMModel(LiteLLMConfig(model="openai/gpt-4o"))


def test_known_models_get_price_and_context_window_offline(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    m = LiteLLMModel(LiteLLMConfig(model="gpt-4o-mini"))
    assert m.priced and m.context_window and m.context_window >= 100_000
    assert m.cost(1_000_000, 0) > 0
    assert 0 < m.count_tokens("hello world " * 100) < 400


def test_importing_rgym_models_does_not_import_litellm():
    code = "import sys, rgym.models, rgym.agent.factory; print('litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
