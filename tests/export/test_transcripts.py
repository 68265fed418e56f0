"""The exported chat is what the model was sent and what it answered: compared with the requests
the fake OpenAI-compatible server received during real runs (text and tool-calling protocols,
a re-asked reply, a memory note, elided history)."""

from __future__ import annotations

import json
import re

import pytest

from rgym.export.command import ExportOptions, export_runs
from rgym.runs.record import iter_events

FOOTER_STATE = re.compile(r"\(Open file: .*\)\n\(Current directory: .*\)")
WALL = re.compile(r"(\d+) s of wall-clock left")


def export(runs, tmp_path, run_dir, **options) -> list[dict]:
    out = tmp_path / "out.jsonl"
    export_runs([run_dir], out, ExportOptions(kind="sft", **options))
    return [json.loads(line) for line in out.read_text().splitlines()]


def same_as_sent(mine: dict, sent: dict) -> None:
    """Equal, but for what the record cannot hold: the footer's open file and working directory
    (rebuilt as `unknown`) and its wall-clock (rebuilt from event times: within a second)."""
    mine = {k: v for k, v in mine.items() if v is not None}  # the client drops a None content
    a, b = mine.get("content"), sent.get("content")
    if isinstance(a, str) and isinstance(b, str):
        rebuilt = "(Open file: unknown)\n(Current directory: unknown)"
        assert rebuilt in a or not FOOTER_STATE.search(b)
        a, b = FOOTER_STATE.sub("", a), FOOTER_STATE.sub("", b)
        for x, y in zip(WALL.findall(a), WALL.findall(b), strict=True):
            assert abs(int(x) - int(y)) <= 1
        a, b = WALL.sub("", a), WALL.sub("", b)
    assert a == b
    assert {**mine, "content": None} == {**sent, "content": None}


@pytest.mark.parametrize("which", ["text", "tools"])
def test_the_whole_conversation_is_what_the_model_saw_and_said(runs, tmp_path, which):
    """An older run (no message events): rebuilt."""
    run_dir = getattr(runs, which)
    (row,) = export(runs, tmp_path, runs.older(run_dir, tmp_path / "older"))
    requests = runs.requests(run_dir)
    last = requests[-1]["body"]["messages"]
    if "Your reply could not be used" in (last[-1].get("content") or ""):
        last = last[:-2]  # the final reply answered a re-ask: the history is what precedes it
    messages = row["messages"]
    assert row["metadata"]["transcript"] == "rebuilt" and row["metadata"]["protocol"] == which
    # the final prompt holds the whole history, older outputs elided (history_keep=2 in the
    # text run): every message it holds whole is the exported one
    assert len(messages) == len(last) + 1
    for mine, sent in zip(messages, last, strict=False):
        if (sent.get("content") or "").startswith("Old output omitted"):
            assert mine["role"] == sent["role"]
            continue
        same_as_sent(mine, sent)
    # the last reply: what the server answered to the last request
    assert messages[-1]["role"] == "assistant"
    replies = [e for e in iter_events(run_dir) if e["type"] == "model_call"]
    assert (messages[-1]["content"] or "") == (replies[-1]["content"] or "")
    if which == "tools":
        assert row["tools"] == requests[0]["body"]["tools"]
        calls = [m for m in messages if m.get("tool_calls")]
        assert all(len(m["tool_calls"]) == 1 for m in calls)
        ids = [m["tool_calls"][0]["id"] for m in calls]
        answers = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
        assert answers == ids[: len(answers)] and len(answers) == len(ids) - 1


@pytest.mark.parametrize("which", ["text", "tools"])
def test_each_step_is_the_prompt_that_step_sent(runs, tmp_path, which):
    """Per step: the prompt exactly as that request sent it (elided history, the re-ask of an
    unusable reply) and the reply that became the action. An older run (no message events):
    rebuilt."""
    run_dir = getattr(runs, which)
    rows = export(runs, tmp_path, runs.older(run_dir, tmp_path / "older"), per_step=True)
    calls = [e for e in iter_events(run_dir) if e["type"] == "model_call"]
    bad = {e["seq"] for e in iter_events(run_dir) if e["type"] == "format_error"}
    requests = runs.requests(run_dir)
    # a request whose reply was re-asked is followed by its format_error event
    seqs = [c["seq"] for c in calls]
    accepted = [i for i, s in enumerate(seqs) if s + 1 not in bad]
    assert len(rows) == len(accepted) and [r["metadata"]["step"] for r in rows] == list(
        range(1, len(rows) + 1)
    )
    for row, i in zip(rows, accepted, strict=True):
        sent = requests[i]["body"]["messages"]
        *prompt, reply = row["messages"]
        assert len(prompt) == len(sent)
        for mine, theirs in zip(prompt, sent, strict=True):
            same_as_sent(mine, theirs)
        assert (reply.get("content") or "") == (calls[i]["content"] or "")
    reasked = [r for r, i in zip(rows, accepted, strict=True) if i > 0 and seqs[i - 1] + 1 in bad]
    assert reasked, "the scripts hold an unusable reply"
    assert "Your reply could not be used" in reasked[0]["messages"][-2]["content"]
    if which == "text":  # history_keep=2: the oldest outputs were elided, as the agent did
        assert any("Old output omitted" in (m["content"] or "") for m in rows[-1]["messages"])


def test_a_memory_note_counts_a_step_the_env_does_not(runs, tmp_path):
    (row,) = export(runs, tmp_path, runs.text)
    contents = [m["content"] or "" for m in row["messages"]]
    note = next(i for i, c in enumerate(contents) if "memory_write always" in c)
    assert "Saved to memory" in contents[note + 1]
    # the footer after the note counts it (step 3 = ls, the artefact, the note)
    assert "(Step 3 of 20;" in contents[note + 1]
    assert "Dev split: Score=" in contents[note + 3]


def test_a_replayed_run_comes_out_as_the_research_agent_would_carry_it(runs, tmp_path):
    (row,) = export(runs, tmp_path, runs.replay)
    meta = row["metadata"]
    assert meta["transcript"] == "replay" and meta["agent"] == "replay"
    messages = row["messages"]
    assert messages[0]["role"] == "system" and "RESPONSE FORMAT" in messages[0]["content"]
    assert messages[1]["content"].startswith("# Task: Iterated Prisoner's Dilemma")
    events = list(iter_events(runs.replay))
    actions = [e["action"] for e in events if e["type"] == "action"]
    replies = [m["content"] for m in messages if m["role"] == "assistant"]
    assert [r.split("```\n", 1)[1].rsplit("\n```", 1)[0] for r in replies] == actions
    assert replies[0].startswith("See what is there.\n```")
    outputs = [m["content"] for m in messages[2:] if m["role"] == "user"]
    ls = next(e["observation"] for e in events if e["type"] == "observation")
    assert outputs[0].startswith(ls) and "Dev split: Score=" in outputs[2]
    assert len(outputs) == len(actions) - 1  # the answer to submit was never shown


def test_openai_and_trl_carry_tool_calls_as_tool_calls(runs, tmp_path):
    (openai,) = export(runs, tmp_path, runs.tools)
    (trl,) = export(runs, tmp_path, runs.tools, fmt="trl")
    call = next(m for m in openai["messages"] if m.get("tool_calls"))
    assert call["tool_calls"][0]["function"] == {"name": "bash", "arguments": '{"command": "ls"}'}
    call = next(m for m in trl["messages"] if m.get("tool_calls"))
    assert call["tool_calls"][0]["function"] == {"name": "bash", "arguments": {"command": "ls"}}
    result = next(m for m in trl["messages"] if m["role"] == "tool")
    assert result["name"] == "bash" and result["tool_call_id"] == "call_bash"
