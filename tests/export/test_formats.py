"""Every --format, written from real runs, loaded back with `datasets.load_dataset` (and, for
verl's SFT, with pandas, as verl reads it), and checked against what its trainer documents
(tests/export/trainer_schemas.py)."""

from __future__ import annotations

import json

import datasets
import pandas as pd
import pytest

from rgym.export.command import ExportOptions, export_runs
from rgym.runs.record import iter_events, read_run
from tests.export.trainer_schemas import (
    check_episode,
    check_messages,
    check_trl,
    check_verl_rl,
    check_verl_sft,
)


@pytest.fixture(autouse=True, scope="module")
def quiet():
    datasets.disable_progress_bars()


def load(path):
    kind = "parquet" if path.suffix == ".parquet" else "json"
    return datasets.load_dataset(kind, data_files=str(path), split="train", cache_dir=None)


CASES = [
    ("sft", "openai", False, ".jsonl"),
    ("sft", "openai", False, ".parquet"),
    ("sft", "openai", True, ".jsonl"),
    ("sft", "trl", False, ".jsonl"),
    ("sft", "trl", True, ".jsonl"),
    ("sft", "trl", True, ".parquet"),
    ("sft", "verl", False, ".parquet"),
    ("rl", "episodes", False, ".jsonl"),
    ("rl", "episodes", False, ".parquet"),
    ("rl", "trl", False, ".jsonl"),
    ("rl", "verl", False, ".parquet"),
]


@pytest.mark.parametrize("kind, fmt, per_step, suffix", CASES)
def test_each_format_loads_with_datasets_and_fits_its_trainers_schema(
    runs, tmp_path, kind, fmt, per_step, suffix
):
    out = tmp_path / f"data{suffix}"
    report = export_runs([runs.root], out, ExportOptions(kind=kind, fmt=fmt, per_step=per_step))
    assert report.runs == 4 and out.exists()
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left"
    rows = load(out)
    assert len(rows) == report.rows
    if (kind, fmt) == ("sft", "verl"):  # verl reads it with pandas
        frame = pd.read_parquet(out)
        assert "tools" not in frame.columns
        for _, row in frame.iterrows():
            check_verl_sft(row.to_dict())
        tools = [json.loads(t) for t in frame["tools_json"] if isinstance(t, str)]
        assert tools and all(t[0]["type"] == "function" for t in tools)
        return
    for row in rows:
        if kind == "sft" and fmt == "openai":
            check_messages(row["messages"], arguments=str)
            assert row["messages"][-1]["role"] == "assistant"
        elif fmt == "trl":
            kinds = {"sft": "prompt-completion" if per_step else "language modeling"}
            assert check_trl(row) == kinds.get(kind, "prompt-only")
        elif fmt == "episodes":
            check_episode(row)
        else:
            check_verl_rl(row)


def test_rl_episodes_are_the_envs_observations_actions_and_rewards(runs, tmp_path):
    out = tmp_path / "rl.jsonl"
    export_runs([runs.root], out, ExportOptions(kind="rl"))
    rows = {r["run_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    for run_dir in (runs.text, runs.tools, runs.replay, runs.unscorable):
        row = rows[run_dir.name]
        result = read_run(run_dir)["result"]
        events = list(iter_events(run_dir))
        assert [s["action"] for s in row["steps"]] == [
            e["action"] for e in events if e["type"] == "action"
        ]
        assert row["exit_status"] == result["exit_status"]
        assert row["steps"][0]["observation"].startswith("# Task: Iterated Prisoner's Dilemma")
        shown = [e["observation"] for e in events if e["type"] == "observation"]
        assert shown[0] == row["steps"][1]["observation"]  # o_1 answers a_1, comes before a_2
    assert rows[runs.replay.name]["reward"] == read_run(runs.replay)["result"]["normalised_score"]
    # a submission that cannot be scored earns -1, as the env pays it
    bad = rows[runs.unscorable.name]
    assert bad["exit_status"] in ("no_artifact", "invalid_artifact") and bad["reward"] == -1.0
    replay = rows[runs.replay.name]["steps"]
    validate = next(i for i, s in enumerate(replay) if s["action"] == "validate")
    assert replay[validate + 1]["observation"].startswith("Dev split: Score=")


def test_rl_prompts_for_trl_and_verl_are_the_research_agents_opening(runs, tmp_path):
    out = tmp_path / "grpo.jsonl"
    export_runs([runs.root], out, ExportOptions(kind="rl", fmt="trl"))
    row = next(r for r in map(json.loads, out.read_text().splitlines()))
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert "RESPONSE FORMAT" in row["prompt"][0]["content"]
    assert (row["task"], row["variant"]) == ("prisoners-dilemma", "tiny")
    assert isinstance(row["recorded_reward"], float)
    out = tmp_path / "verl.parquet"
    export_runs([runs.root], out, ExportOptions(kind="rl", fmt="verl"))
    first = load(out)[0]
    assert first["data_source"] == "rgym/prisoners-dilemma" and first["ability"] == "games"
    assert first["reward_model"] == {"style": "rule", "ground_truth": "prisoners-dilemma:tiny"}
    assert [load(out)[i]["extra_info"]["index"] for i in range(4)] == [0, 1, 2, 3]
