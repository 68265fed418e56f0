"""The agent loop driven by the scripted model on a real env; the factory's fail-fast errors."""

from __future__ import annotations

import json

import pytest

import rgym
from rgym.agent.config import AgentConfig
from rgym.agent.factory import make_default_agent
from rgym.agent.loop import DefaultAgent
from rgym.budget import Budget
from rgym.errors import ConfigError
from rgym.models import ScriptedModel
from rgym.runs.record import RunRecord, iter_events
from rgym.runs.runner import RunConfig, run
from tests.conftest import requires_bwrap


def block(cmd: str) -> str:
    return f"Doing it.\n```\n{cmd}\n```"


def episode(tmp_path, replies, name="r", budget=None, **options):
    agent = DefaultAgent(ScriptedModel(replies), AgentConfig(**options))
    record = RunRecord(tmp_path / name)
    env = rgym.make("titanic", tool_dirs=agent.tool_dirs, record=record, budget=budget)
    try:
        obs, info = env.reset(seed=0)
        seen = []
        stats = agent.run(env, obs, info, on_step=lambda *a: seen.append(a))
        status = env.exit_status
    finally:
        env.close()
        record.close()
    return agent, stats, status, list(iter_events(record.root)), seen


@requires_bwrap
def test_stats_equal_the_events_and_tools_come_from_tool_dirs(tmp_path):
    agent, stats, status, events, seen = episode(
        tmp_path, [block("open baseline.py"), block("python -V"), block("submit")]
    )
    assert status == "no_artifact"  # submitted, with nothing to score
    calls = [e for e in events if e["type"] == "model_call"]
    assert stats.model_calls == len(calls) == 3
    assert stats.prompt_tokens == sum(c["prompt_tokens"] for c in calls)
    assert not any(e["type"] == "note" and "installed" in e.get("message", "") for e in events)
    assert [s[1] for s in seen] == ["open baseline.py", "python -V", "submit"]
    assert "(Open file: /home/agent/workspace/baseline.py)" in agent.model.calls[2][-1]["content"]


@requires_bwrap
def test_long_observations_are_cut_before_the_model_sees_them(tmp_path):
    agent, *_ = episode(
        tmp_path,
        [block("python -c \"print('q' * 50000)\""), block("submit")],
        max_observation_chars=2000,
    )
    last = agent.model.calls[1][-1]["content"]
    assert "characters cut from the middle" in last and len(last) < 3000


@requires_bwrap
def test_memory_persists_across_episodes_of_the_task(tmp_path, memory_dir):
    _, _, _, events, _ = episode(
        tmp_path,
        [
            block('memory_write "the family-size feature helped: dev 0.80 -> 0.83"'),
            block("memory_write unrelated note about tents"),
            block("submit"),
        ],
        "a",
        memory=True,
    )
    assert (memory_dir / "titanic.jsonl").exists()
    hosted = [e for e in events if e["type"] == "action" and e.get("host")]
    assert len(hosted) == 2
    agent, _, _, _, _ = episode(
        tmp_path, [block("memory_read family size"), block("submit")], "b", memory=True
    )
    seen = agent.model.calls[1][-1]["content"]
    assert seen.startswith("Note 1") and "family-size feature helped" in seen.splitlines()[0]
    assert "memory_write" in agent.model.calls[0][0]["content"]  # documented in the prompt


@requires_bwrap
def test_host_side_memory_steps_count_against_the_step_budget(tmp_path, memory_dir):
    _, stats, status, _, _ = episode(
        tmp_path, [block("memory_read x")] * 10, memory=True, budget=Budget(max_steps=3)
    )
    assert status in ("auto_submitted:steps", "no_artifact") and stats.model_calls == 3


@requires_bwrap
def test_templates_can_be_overridden(tmp_path):
    tdir = tmp_path / "templates"
    tdir.mkdir()
    (tdir / "system.jinja").write_text("CUSTOM SYSTEM. Tools:\n{{ command_docs }}")
    (tdir / "footer.jinja").write_text("[step {{ step }}]")
    agent, *_ = episode(tmp_path, [block("ls"), block("submit")], templates_dir=tdir)
    first = agent.model.calls[0]
    assert first[0]["content"].startswith("CUSTOM SYSTEM") and "find_file:" in first[0]["content"]
    assert agent.model.calls[1][-1]["content"].endswith("[step 1]")


def test_the_factory_validates_options_and_models(monkeypatch, tmp_path):
    def cfg(**kw):
        return RunConfig(task="titanic", agent="default", **kw)

    with pytest.raises(ConfigError, match="needs a model"):
        make_default_agent(cfg())
    with pytest.raises(ConfigError, match="bad agent options: tempurature.*Valid keys: api_base"):
        make_default_agent(cfg(model="x", agent_options={"tempurature": 1}))
    with pytest.raises(ConfigError, match="protocol"):
        make_default_agent(cfg(model="x", agent_options={"protocol": "xml"}))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY is not set.*export it"):
        make_default_agent(cfg(model="anthropic/claude-3-5-sonnet-20240620"))
    agent = make_default_agent(
        cfg(
            model="llama3",
            agent_options={
                "api_base": "http://127.0.0.1:9/v1",
                "temperature": 0.0,
                "protocol": "tools",
            },
        )
    )
    assert agent.model_name == "openai/llama3" and agent.tools and agent.tool_dirs[0].is_dir()
    (tmp_path / "r.yaml").write_text('- "```\\nsubmit\\n```"\n')
    assert make_default_agent(cfg(model=f"replay:{tmp_path / 'r.yaml'}")).model_name.startswith(
        "replay:"
    )


def test_the_runner_fails_fast_before_a_run_directory_exists(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        run(
            RunConfig(
                task="titanic", agent="default", model="openai/gpt-4o", runs_dir=tmp_path / "runs"
            )
        )
    assert not (tmp_path / "runs").exists()


@requires_bwrap
def test_replaying_an_earlier_run(tmp_path):
    script = [
        block(
            "cp data/test.csv x.csv && echo PassengerId,Survived > submission.csv && "
            "cut -d, -f1 data/test.csv | tail -n +2 | sed 's/$/,1/' >> submission.csv"
        ),
        block("validate"),
        block("submit"),
    ]
    replies = _yaml(tmp_path, script)
    first = run(
        RunConfig(
            task="titanic", agent="default", model=f"replay:{replies}", runs_dir=tmp_path / "runs"
        )
    )
    again = run(
        RunConfig(
            task="titanic",
            agent="default",
            model=f"replay:{first.run_dir}",
            runs_dir=tmp_path / "runs",
        )
    )
    assert again.exit_status == first.exit_status == "submitted"
    assert again.test_score == first.test_score and again.totals.model_calls == 3


def _yaml(tmp_path, replies):
    path = tmp_path / "replies.json"
    path.write_text(json.dumps(replies))
    return path
