"""What of the conversation the model sees."""

from __future__ import annotations

import pytest

from rgym.agent.history import ContextOverflow, History, truncate


def build(n: int, size: int = 400, keep: int = 3) -> History:
    h = History(keep_last=keep)
    h.add("system", {"role": "system", "content": "sys"})
    h.add("task", {"role": "user", "content": "the task"})
    for i in range(n):
        h.add("reply", {"role": "assistant", "content": f"reply {i}"})
        h.add("observation", {"role": "user", "content": f"obs {i}\n" + "z" * size})
    return h


def test_the_last_n_observations_are_kept_and_older_ones_noted():
    msgs, tokens = build(6).render()
    contents = [m["content"] for m in msgs]
    assert contents[:2] == ["sys", "the task"]
    assert [c for c in contents if c.startswith("reply")] == [f"reply {i}" for i in range(6)]
    full = [c for c in contents if c.startswith("obs")]
    assert [c.split("\n")[0] for c in full] == ["obs 3", "obs 4", "obs 5"]
    assert contents.count("Old output omitted (2 lines).") == 3
    assert tokens > 300


def test_a_tight_window_keeps_fewer_then_drops_old_steps():
    h = build(10)
    _, full_tokens = h.render()
    msgs, tokens = h.render(limit=200)
    assert tokens <= 200 < full_tokens
    contents = [m["content"] for m in msgs]
    assert contents[:2] == ["sys", "the task"]
    assert contents[-1].startswith("obs 9")  # the latest observation is always there
    assert any("earlier steps left out" in c for c in contents)


def test_the_latest_observation_is_cut_as_a_last_resort():
    h = build(1, size=20_000)
    msgs, tokens = h.render(limit=1000)
    assert tokens <= 1000 and "characters cut" in msgs[-1]["content"]


def test_overflow_when_even_the_task_does_not_fit():
    h = History()
    h.add("system", {"role": "system", "content": "s" * 10_000})
    h.add("task", {"role": "user", "content": "t"})
    with pytest.raises(ContextOverflow, match="context window"):
        h.render(limit=100)


def test_tool_messages_keep_their_call_ids_when_elided():
    h = History(keep_last=1)
    h.add("system", {"role": "system", "content": "s"})
    h.add("task", {"role": "user", "content": "t"})
    for i in range(2):
        h.add(
            "reply",
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"c{i}",
                        "type": "function",
                        "function": {"name": "bash", "arguments": "{}"},
                    }
                ],
            },
        )
        h.add("observation", {"role": "tool", "tool_call_id": f"c{i}", "content": "out"})
    msgs, _ = h.render()
    assert msgs[3] == {
        "role": "tool",
        "tool_call_id": "c0",
        "content": "Old output omitted (1 lines).",
    }


def test_truncate_keeps_head_and_tail():
    text = "A" * 100 + "B" * 100
    out = truncate(text, 50)
    assert out.startswith("A" * 25) and out.endswith("B" * 25) and "150 characters cut" in out
    assert truncate("short", 50) == "short"
