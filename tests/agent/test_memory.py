"""The memory tools: BM25 ranking, storage on the host."""

from __future__ import annotations

from rgym.agent.memory import MemoryStore, bm25
from rgym.agent.tools import by_name, render_call


def test_bm25_ranks_the_relevant_note_first():
    docs = [
        "gradient boosting gave 0.85 accuracy",
        "the baseline is a logistic regression",
        "age has missing values; impute with the median age",
    ]
    scores = bm25("missing age values", docs)
    assert max(range(3), key=scores.__getitem__) == 2 and scores[0] == 0


def test_write_read_and_odd_inputs(tmp_path):
    store = MemoryStore(tmp_path / "m" / "task.jsonl", run_id="r1")
    assert "empty" in store.read("anything")
    assert "Saved" in store.run('memory_write "family size helps: +2% dev accuracy"')
    store.run("memory_write children under 13 survive more often")
    assert "Nothing saved" in store.run("memory_write   ")
    out = store.run("memory_read family size")
    assert out.startswith("Note 1") and "family size helps" in out.splitlines()[0]
    assert "No note matches" in store.run("memory_read zebra")
    assert store.run("ls") is None
    assert store.notes()[0]["run"] == "r1"
    (tmp_path / "m" / "task.jsonl").open("a").write("{torn\n")
    assert len(store.notes()) == 2


def test_memory_tool_calls_round_trip_through_shell_quoting(tmp_path):
    store = MemoryStore(tmp_path / "t.jsonl")
    action = render_call("memory_write", {"text": 'it\'s "quoted" & odd'}, by_name(memory=True))
    store.run(action)
    assert store.notes()[0]["text"] == 'it\'s "quoted" & odd'
