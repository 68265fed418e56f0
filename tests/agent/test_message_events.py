"""The agent records every message it sends its model (`message` events) and how a request's
history was cut to fit the context window (`context_fit` events): checked against the requests
the fake OpenAI-compatible server received in whole episodes (real sandbox, real grader)."""

from __future__ import annotations

import json

from rgym.agent.history import Fit, History
from tests.conftest import requires_bwrap
from tests.fake_llm import tool_call

pytestmark = requires_bwrap

SENT_FIELDS = ("role", "content", "tool_call_id")


def sent(event: dict) -> str:
    """The message a (non-reply) message event recorded, as the client puts it on the wire."""
    return json.dumps({k: v for k, v in event.items() if k in SENT_FIELDS})


def test_every_message_the_model_is_sent_is_recorded_once_as_sent(episode):
    script = [
        tool_call("bash", command="ls"),
        {"content": "thinking", "tool_calls": []},  # no tool call: re-asked
        tool_call("open", path="baseline.py"),
        tool_call("submit"),
    ]
    ep = episode(script, protocol="tools")
    requests = [r["body"]["messages"] for r in ep.llm.requests]
    messages = ep.of("message")
    assert [(m["kind"], m["step"]) for m in messages] == [
        ("system", 0),
        ("task", 0),
        ("reply", 1),
        ("observation", 1),
        ("unusable_reply", 2),
        ("format_error", 2),
        ("reply", 2),
        ("observation", 2),
        ("reply", 3),
    ]
    system, task, ls, obs_ls, bad, why, opened, obs_open, submit = messages
    # the opening and every observation, verbatim in every request made after them
    for n, request in enumerate(requests):
        wire = [json.dumps(m) for m in request]
        assert wire[:2] == [sent(system), sent(task)]
        assert (sent(obs_ls) in wire) == (n >= 1)
        assert (sent(obs_open) in wire) == (n >= 3)
    assert system["tools"] == ep.llm.requests[0]["body"]["tools"]
    # the re-ask: the unusable reply shown back, then the reason, after the history
    assert json.dumps(requests[2][-2:]) == json.dumps(
        [{"role": "assistant", "content": "thinking"}, json.loads(sent(why))]
    )
    assert "content" not in bad and "Your reply could not be used" in why["content"]
    # a reply's text is its model_call's; its event holds the tool call's id and name as sent
    for reply, request in [(ls, requests[1]), (opened, requests[3])]:
        assert "content" not in reply
        call = [m for m in request if m.get("tool_calls")][-1]
        assert (reply["tool_call_id"], reply["name"]) == (
            call["tool_calls"][0]["id"],
            call["tool_calls"][0]["function"]["name"],
        )
    assert (submit["tool_call_id"], submit["name"]) == ("call_submit", "submit")
    # the footer as the model read it: the sandbox's open file and directory, the wall-clock
    assert obs_open["tool_call_id"] == "call_open"
    assert obs_open["content"].endswith(
        "s of wall-clock left)\n(Open file: /home/agent/workspace/baseline.py)\n"
        "(Current directory: /home/agent/workspace)"
    )
    assert not ep.of("context_fit")  # the history fitted


def test_a_request_cut_to_fit_the_context_window_is_recorded_with_its_fit(episode):
    big = "python -c \"print('x' * 7000)\""
    ep = episode(
        ["```\nls\n```"] + [f"```\n{big}\n```"] * 6 + ["```\nsubmit\n```"],
        context_window=6000,
        completion_kwargs={"max_tokens": 500},
        max_observation_chars=8000,
        history_keep=3,
    )
    assert len(ep.llm.requests) == 8  # (no artefact: titanic scores nothing, no matter here)
    fits = ep.of("context_fit")
    assert fits and all(f["prompt_tokens"] <= f["limit"] == 5500 for f in fits)
    # each fit is the next request's: the recorded messages cut as it says are that request
    history = History(keep_last=3)
    requests = iter(r["body"]["messages"] for r in ep.llm.requests)
    fit = None
    for ev in ep.events:
        if ev["type"] == "context_fit":
            fit = Fit(ev["keep"], ev["dropped"], ev["cut"])
        elif ev["type"] == "model_call":
            request = next(requests)
            assert json.dumps(history.view(fit)) == json.dumps(request)
            fit = None
        elif ev["type"] == "message":
            reply = {"role": "assistant", "content": ev.get("content")}
            if ev["kind"] == "reply":
                last = next(e for e in reversed(ep.of("model_call")) if e["seq"] < ev["seq"])
                reply["content"] = last["content"]
            history.add(ev["kind"], reply if ev["kind"] == "reply" else json.loads(sent(ev)))
    assert any(f["keep"] < 3 for f in fits)
