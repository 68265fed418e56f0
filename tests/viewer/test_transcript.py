"""Events shaped for reading (folding, paging, the charts' series) and the live tail."""

from __future__ import annotations

import json

from rgym.runs.record import RunRecord
from rgym.viewer.live import EventTail, sse
from rgym.viewer.transcript import FOLD_LINES, FULL_CHARS, build, event_view, fold, read_events


def test_short_texts_stay_whole_and_long_ones_fold_to_head_and_tail():
    assert not fold("a\nb", "output").folded
    text = "\n".join(str(i) for i in range(FOLD_LINES + 100))
    t = fold(text, "output")
    assert t.folded and t.head.startswith("0\n1\n") and t.tail.endswith(str(FOLD_LINES + 99))
    assert t.hidden_lines == FOLD_LINES + 100 - 30 and t.full == text
    one_line = fold("x" * 10_000, "output")
    assert one_line.folded and one_line.hidden_lines == 0
    huge = fold("y" * (FULL_CHARS * 3), "output")
    assert huge.cut_chars == FULL_CHARS * 2 and "characters cut here" in huge.full
    assert fold({"a": 1}, "raw").folded  # raw JSON is always behind a toggle


def test_each_event_type_gets_its_label_facts_and_level():
    call = event_view(
        {
            "type": "model_call",
            "step": 2,
            "time": 11.0,
            "outcome": "error:auth",
            "prompt_tokens": 1200,
            "completion_tokens": 30,
            "cost_usd": 0.002,
            "latency_s": 2.5,
            "error": "bad key",
        },
        10.0,
    )
    assert call.label == "model call" and call.level == "error" and call.t == 1.0
    assert ("tokens", "1,200 in / 30 out") in call.meta and ("latency", "2.50 s") in call.meta
    obs = event_view({"type": "observation", "observation": "x", "exit_code": 2}, None)
    assert obs.level == "warn" and ("exit code", "2") in obs.meta
    dev = event_view(
        {
            "type": "evaluation",
            "split": "dev",
            "status": "invalid_artifact",
            "score": None,
            "message": "no file",
        },
        None,
    )
    assert dev.label == "dev evaluation" and dev.level == "error"
    reset = event_view({"type": "reset", "isolated": False}, None)
    assert reset.level == "error" and ("warning", "NO ISOLATION") in reset.meta
    odd = event_view({"type": "custom", "x": 1}, None)
    assert odd.texts[0].role == "raw" and '"x": 1' in odd.texts[0].full


def test_a_torn_last_line_is_skipped(tmp_path):
    record = RunRecord(tmp_path / "run")
    record.event("action", step=1, action="ls")
    record.close()
    with (tmp_path / "run" / "events.jsonl").open("a") as f:
        f.write('{"type": "observation", "step": 1, "observ')
    assert [e["type"] for e in read_events(tmp_path / "run")] == ["action"]


def test_series_count_steps_validations_and_spend_over_time():
    events = [
        {
            "type": "model_call",
            "step": 1,
            "time": 100.0,
            "cost_usd": 0.5,
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "outcome": "ok",
        },
        {"type": "action", "step": 1, "time": 101.0, "action": "validate"},
        {
            "type": "evaluation",
            "step": 1,
            "time": 102.0,
            "split": "dev",
            "score": 0.7,
            "status": "ok",
        },
        {"type": "action", "step": 2, "time": 103.0, "action": "submit"},
        {
            "type": "evaluation",
            "step": 2,
            "time": 104.0,
            "split": "test",
            "score": 0.6,
            "status": "ok",
        },
    ]
    t = build(events)
    s = t.series
    assert s.t == [0.0, 1.0, 2.0, 3.0] and s.steps == [0, 1, 1, 2]
    assert s.validations == [0, 0, 1, 1] and s.cost == [0.5] * 4 and s.tokens == [15.0] * 4
    assert s.dev == [(1, 0.7)] and s.test == [(2, 0.6)]
    assert t.n_steps == 2 and t.model_calls == 1 and [b.step for b in t.blocks] == [1, 2]


def test_the_tail_sends_each_complete_line_once(tmp_path):
    record = RunRecord(tmp_path / "run")
    record.event("note", message="before")
    tail = EventTail(tmp_path / "run", after=1)
    assert tail.poll() == []  # seq 1 was on the page already
    record.event("action", step=1, action="ls")
    with (tmp_path / "run" / "events.jsonl").open("a") as f:
        half = json.dumps({"seq": 3, "type": "observation", "step": 1, "observation": "a.txt"})
        f.write(half[:20])
        f.flush()
        sent = tail.poll()
        assert [m["facts"]["seq"] for m in sent] == [2] and sent[0]["view"]["label"] == "action"
        f.write(half[20:] + "\n")
    sent = tail.poll()
    assert [m["facts"]["seq"] for m in sent] == [3]
    assert sent[0]["view"]["texts"][0]["full"] == "a.txt"
    assert tail.poll() == [] and not tail.finished()
    record.write_result({"exit_status": "submitted"})
    record.close()
    assert tail.finished()
    assert sse({"a": 1}, event="x", event_id=3) == 'event: x\nid: 3\ndata: {"a": 1}\n\n'


def test_recorded_messages_show_what_the_model_was_sent_and_the_system_prompt_once(tmp_path):
    from rgym.viewer.transcript import rgym_transcript

    record = RunRecord(tmp_path / "run")
    record.event("reset", seed=0, sandbox="bwrap", isolated=True)
    record.event("message", kind="system", step=0, role="system", content="SYSTEM PROMPT")
    record.event("message", kind="task", step=0, role="user", content="the task")
    record.event("action", step=1, action="ls")
    record.event("observation", step=1, observation="a.txt")
    record.event("message", kind="observation", step=1, role="user", content="a.txt\n\n(Step 1)")
    record.event("context_fit", step=2, keep=1, dropped=3, cut=0, prompt_tokens=900, limit=1000)
    record.close()
    t = rgym_transcript(tmp_path / "run")
    assert t.system_prompt is not None and t.system_prompt.full == "SYSTEM PROMPT"
    views = [v for b in t.blocks for v in b.events]
    labels = [v.label for v in views]
    assert "sent to the model: system" not in labels  # shown once, as the system prompt
    assert labels[0] == "reset"  # nothing before the system prompt is lost
    assert "sent to the model: task" in labels and "sent to the model: observation" in labels
    fit = next(v for v in views if v.type == "context_fit")
    assert fit.level == "warn" and ("dropped", "3") in fit.meta
