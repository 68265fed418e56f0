"""A run recorded since the agent records what it sends exports, byte for byte, the messages the
model server received: per step each request whole (footers with the open file, working
directory and wall-clock; re-asks; history elided, steps left out and outputs cut to fit a small
context window, across a context-window error and a retried 429), and per run the conversation
every request was cut from. Only older runs (no `message` events) are rebuilt, and say so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rgym.export.command import ExportOptions, export_runs
from rgym.runs.record import iter_events
from rgym.runs.runner import RunConfig, run
from tests.export.conftest import DEFECT, TASK, TEXT_SCRIPT, TOOLS_SCRIPT, VARIANT, block
from tests.fake_llm import FakeLLM, status

BIG = "python -c \"print('x' * 6000)\""
OVERFLOW = status(
    400, "This model's maximum context length is 4096 tokens", err_code="context_length_exceeded"
)
CROWDED_SCRIPT = [
    block("open strategy.py"),
    block(DEFECT),
    *[block(BIG)] * 5,
    OVERFLOW,  # the server knows better: the agent cuts the history further, then asks again
    status(429),  # retried with the same prompt
    block(BIG),
    block("submit"),
]
ELISION_NOTES = ("Old output omitted", "earlier steps left out")


def wire(message: dict) -> str:
    """A message as the OpenAI client sends it (it leaves out fields that are None)."""
    return json.dumps({k: v for k, v in message.items() if v is not None})


def export(run_dir: Path, tmp_path: Path, **options) -> list[dict]:
    out = tmp_path / "out.jsonl"
    export_runs([run_dir], out, ExportOptions(kind="sft", **options))
    return [json.loads(line) for line in out.read_text().splitlines()]


def accepted_requests(run_dir: Path, requests: list[dict]) -> list[int]:
    """Indices of the requests whose reply became an action (one model_call event a request;
    an unusable reply's call is followed by its format_error event)."""
    events = list(iter_events(run_dir))
    calls = [i for i, e in enumerate(events) if e["type"] == "model_call"]
    assert len(calls) == len(requests)
    return [
        n
        for n, i in enumerate(calls)
        if events[i]["outcome"] == "ok" and events[i + 1]["type"] != "format_error"
    ]


@pytest.fixture(scope="module")
def crowded(tmp_path_factory, rgym_cache) -> tuple[Path, list[dict]]:
    """A run whose history outgrew its context window (about 3 s), and its requests."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    root = tmp_path_factory.mktemp("crowded")
    with FakeLLM(CROWDED_SCRIPT) as llm:
        options = {
            "api_base": llm.url + "/v1",
            "retry": {"backoff_s": 0.01},
            "context_window": 5000,
            "completion_kwargs": {"max_tokens": 500},
            "history_keep": 3,
        }
        result = run(
            RunConfig(
                task=TASK,
                variant=VARIANT,
                agent="default",
                model="fake",
                runs_dir=root,
                agent_options=options,
            )
        )
    assert result.exit_status == "submitted", result.message
    return result.run_dir, llm.requests


def each_step_is_its_request(run_dir: Path, requests: list[dict], rows: list[dict]) -> None:
    accepted = accepted_requests(run_dir, requests)
    assert [r["metadata"]["step"] for r in rows] == list(range(1, len(accepted) + 1))
    for n, (row, i) in enumerate(zip(rows, accepted, strict=True)):
        assert row["metadata"]["transcript"] == "recorded"
        *prompt, reply = row["messages"]
        sent = requests[i]["body"]["messages"]
        assert [wire(m) for m in prompt] == [json.dumps(m) for m in sent]
        # the reply is as the agent sent it back with the next request (its tool call's id)
        if n + 1 < len(accepted):
            nxt = requests[accepted[n + 1]]["body"]["messages"]
            assert wire(reply) in [json.dumps(m) for m in nxt]


@pytest.mark.parametrize("which", ["text", "tools"])
def test_each_step_is_byte_for_byte_the_request_it_answered(runs, tmp_path, which):
    run_dir = getattr(runs, which)
    requests = runs.requests(run_dir)
    rows = export(run_dir, tmp_path, per_step=True)
    each_step_is_its_request(run_dir, requests, rows)
    last = rows[-1]["messages"][-1]  # what the server answered last
    if which == "text":
        assert last == {"role": "assistant", "content": TEXT_SCRIPT[-1]}
    else:
        assert last["tool_calls"] == TOOLS_SCRIPT[-1]["tool_calls"]
    # the footers are the ones the model read, not rebuilt
    outputs = [m["content"] for m in rows[-1]["messages"] if m["role"] in ("user", "tool")]
    footer = "(Open file: none)\n(Current directory: /home/agent/workspace)"
    assert footer in next(o for o in reversed(outputs) if "s of wall-clock left" in o)
    assert "unknown" not in "".join(outputs)
    reasked = [r for r in rows if "Your reply could not be used" in r["messages"][-2]["content"]]
    assert len(reasked) == 1, "the scripts hold one unusable reply"
    if which == "text":  # history_keep=2: the oldest outputs were elided, as the agent did
        assert "Old output omitted" in json.dumps(rows[-1]["messages"])


@pytest.mark.parametrize("which", ["text", "tools"])
def test_the_whole_run_holds_every_message_the_model_was_sent(runs, tmp_path, which):
    run_dir = getattr(runs, which)
    requests = runs.requests(run_dir)
    (row,) = export(run_dir, tmp_path)
    assert row["metadata"]["transcript"] == "recorded" and row["metadata"]["protocol"] == which
    whole = [wire(m) for m in row["messages"]]
    calls = [e for e in iter_events(run_dir) if e["type"] == "model_call"]
    for call, request in zip(calls, requests, strict=True):
        sent = request["body"]["messages"]
        history = sent[:-2] if call["purpose"] == "reask" else sent  # the re-ask is not kept
        for mine, theirs in zip(row["messages"], history, strict=False):
            if any(note in (theirs.get("content") or "") for note in ELISION_NOTES):
                assert mine["role"] == theirs["role"]  # kept whole here
                assert mine.get("tool_call_id") == theirs.get("tool_call_id")
            else:
                assert wire(mine) == json.dumps(theirs)
    assert len(whole) == len(history) + 1 and row["messages"][-1]["role"] == "assistant"
    if which == "tools":
        assert json.dumps(row["tools"]) == json.dumps(requests[0]["body"]["tools"])


def test_a_history_cut_to_fit_the_context_window_comes_out_as_each_request_sent_it(
    crowded, tmp_path
):
    run_dir, requests = crowded
    events = list(iter_events(run_dir))
    fits = [e for e in events if e["type"] == "context_fit"]
    assert {(f["dropped"] > 0, f["cut"] > 0) for f in fits} >= {(False, False), (True, True)}
    rows = export(run_dir, tmp_path, per_step=True)
    each_step_is_its_request(run_dir, requests, rows)
    prompts = [json.dumps(r["messages"][:-1]) for r in rows]
    assert any("Old output omitted" in p for p in prompts)
    assert any("earlier steps left out" in p for p in prompts)
    assert "(Open file: /home/agent/workspace/strategy.py)" in prompts[1]
    # the whole run keeps every output in full
    (row,) = export(run_dir, tmp_path)
    outputs = [m["content"] for m in row["messages"] if m["role"] == "user"][1:]
    assert not any(note in "".join(outputs) for note in ELISION_NOTES)
    assert sum("x" * 6000 in o for o in outputs) == 6


def test_an_older_run_is_rebuilt_and_says_so(runs, tmp_path):
    (recorded,) = export(runs.tools, tmp_path)
    (rebuilt,) = export(runs.older(runs.tools, tmp_path / "older"), tmp_path)
    assert recorded["metadata"]["transcript"] == "recorded"
    assert rebuilt["metadata"]["transcript"] == "rebuilt"
    assert rebuilt["messages"][3]["role"] == recorded["messages"][3]["role"] == "tool"
    assert "(Open file: unknown)" in rebuilt["messages"][3]["content"]
    assert "(Open file: none)" in recorded["messages"][3]["content"]
    # but for the footers' open file, directory and wall-clock the rebuild agrees
    assert len(recorded["messages"]) == len(rebuilt["messages"])
    assert recorded["messages"][0] == rebuilt["messages"][0]


def test_a_recorded_run_needs_no_task_installed(runs, tmp_path):
    run_dir = runs.copy(runs.text, tmp_path / "runs")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["task"] = "no-such-task"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    (row,) = export(run_dir, tmp_path)
    assert row["metadata"]["transcript"] == "recorded"
    assert row["messages"][1]["content"].startswith("# Task: Iterated Prisoner's Dilemma")


def test_rl_prompts_are_the_recorded_opening(runs, tmp_path):
    out = tmp_path / "grpo.jsonl"
    export_runs([runs.tools], out, ExportOptions(kind="rl", fmt="trl"))
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    sent = runs.requests(runs.tools)[0]["body"]["messages"]
    assert [wire(m) for m in row["prompt"]] == [json.dumps(m) for m in sent]
