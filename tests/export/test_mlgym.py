"""MLGym runs (a <task>.traj with the `history` MLGym sent, and results.json) exported as chats,
beside rgym runs; the fixtures are written in MLGym's on-disk format by
tests/test_mlgym_traj.write_run."""

from __future__ import annotations

import json

import pytest

from rgym.export.command import ExportError, ExportOptions, export_runs
from tests.test_mlgym_traj import BOS_STEPS, write_run


def rows(out) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.fixture
def mlgym_run(tmp_path):
    run = write_run(tmp_path / "mlgym", "battleOfSexes", BOS_STEPS, [1.4431, 1.4418])
    traj = json.loads((run / "battleOfSexes.traj").read_text())
    history = traj["history"]
    # as MLGym writes them: a demonstration put in the history, and another agent's messages
    demo = [
        {"role": "user", "content": "demo task", "agent": "primary_0", "is_demo": True},
        {"role": "assistant", "content": "demo reply", "agent": "primary_0", "is_demo": True},
    ]
    other = {"role": "user", "content": "for someone else", "agent": "reviewer"}
    history[1:1] = demo
    history.insert(4, other)
    history.append({"role": "user", "content": "the output nothing answered", "agent": "primary_0"})
    history[1]["content"] = [{"type": "text", "text": "demo "}, {"type": "text", "text": "task"}]
    (run / "battleOfSexes.traj").write_text(json.dumps(traj))
    return run


def test_an_mlgym_trajectory_is_the_chat_mlgym_sent(mlgym_run, tmp_path):
    out = tmp_path / "a.jsonl"
    export_runs([mlgym_run.parent], out, ExportOptions(kind="sft"))
    (row,) = rows(out)
    messages = row["messages"]
    assert messages[:3] == [
        {"role": "system", "content": "system"},
        {"role": "user", "content": "demo task"},  # content parts joined
        {"role": "assistant", "content": "demo reply"},
    ]
    assert all(m["content"] != "for someone else" for m in messages)  # another agent's
    assert messages[-1]["role"] == "assistant" and messages[-1]["content"].endswith("submit\n```")
    assert sum(m["role"] == "assistant" for m in messages) == len(BOS_STEPS) + 1
    meta = row["metadata"]
    assert (meta["source"], meta["transcript"], meta["task"]) == ("mlgym", "mlgym", "battleOfSexes")
    assert (meta["model"], meta["seed"], meta["exit_status"]) == ("test-model", 0, "submitted")
    assert (meta["metric"], meta["test_score"], meta["baseline_score"]) == ("Score", 1.4418, 1.0227)
    assert meta["dev_scores"] == [1.4431] and meta["reward"] is None


def test_per_step_rows_are_the_runs_own_replies_not_the_demonstrations(mlgym_run, tmp_path):
    out = tmp_path / "a.jsonl"
    export_runs([mlgym_run.parent], out, ExportOptions(kind="sft", fmt="trl", per_step=True))
    got = rows(out)
    assert len(got) == len(BOS_STEPS)
    assert [r["completion"][0]["content"].split("\n")[1] for r in got] == [
        f"step {i}" for i in range(1, len(BOS_STEPS) + 1)
    ]
    assert got[0]["prompt"][-1] == {"role": "user", "content": "obs"}


def test_mlgym_runs_mix_with_rgym_runs_and_stay_out_of_rl(mlgym_run, runs, tmp_path):
    out = tmp_path / "a.jsonl"
    report = export_runs([mlgym_run.parent, runs.root], out, ExportOptions(kind="sft"))
    assert report.runs == 5 and {r["metadata"]["source"] for r in rows(out)} == {"rgym", "mlgym"}
    with pytest.raises(ExportError, match="1 MLGym runs"):
        export_runs([mlgym_run.parent], out, ExportOptions(kind="rl"))
