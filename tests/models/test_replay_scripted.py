"""Replay and scripted models."""

from __future__ import annotations

import json

import pytest

from rgym.errors import ConfigError
from rgym.models import ModelError, ReplayModel, ScriptedConfig, ScriptedModel
from rgym.models.replay import load_replies


def test_scripted_answers_in_order_then_submits():
    m = ScriptedModel(
        ["a", {"content": "b", "prompt_tokens": 7}, ModelError("500", "x")],
        ScriptedConfig(output_cost_per_token=0.5),
    )
    assert m.query([{"role": "user", "content": "q"}]).content == "a"
    r = m.query([])
    assert r.prompt_tokens == 7 and r.cost_usd == pytest.approx(0.5 * r.completion_tokens)
    with pytest.raises(ModelError):
        m.query([])
    assert "submit" in m.query([]).content and len(m.calls) == 4


def test_replay_from_events_jsonl_takes_only_successful_calls(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    events = [
        {"type": "model_call", "outcome": "retry:429", "content": None},
        {"type": "model_call", "outcome": "ok", "content": "first"},
        {"type": "action", "action": "ls"},
        {
            "type": "model_call",
            "outcome": "ok",
            "content": "",
            "tool_calls": [{"id": "c1", "name": "bash", "arguments": '{"command": "ls"}'}],
        },
    ]
    (run / "events.jsonl").write_text("\n".join(map(json.dumps, events)) + "\n{torn")
    m = ReplayModel(run)
    assert m.query([]).content == "first"
    r = m.query([])
    assert r.tool_calls[0].name == "bash" and r.cost_usd == 0
    assert "submit" in m.query([]).content


def test_replay_from_a_yaml_list_and_an_mlgym_traj(tmp_path):
    f = tmp_path / "replies.yaml"
    f.write_text("- one\n- content: two\n")
    assert [r["content"] for r in load_replies(f)] == ["one", "two"]
    traj = tmp_path / "x.traj"
    traj.write_text(
        json.dumps(
            {
                "history": [
                    {"role": "system", "content": "s"},
                    {"role": "assistant", "content": "demo", "is_demo": True},
                    {"role": "assistant", "content": "real"},
                ]
            }
        )
    )
    assert [r["content"] for r in load_replies(traj)] == ["real"]


def test_replay_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_replies(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: value\n")
    with pytest.raises(ConfigError, match="must hold a list"):
        load_replies(bad)
