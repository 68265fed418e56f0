"""MLGym run-folder names -> model, task, agent config, run index."""

from __future__ import annotations

import pytest

from rgym.metrics.mlgym import PRIORITY_METRICS, parse_mlgym_run_name

CFG = "better_thought_action_parser_with_insert"
TAIL = "t-0.00__p-0.95__c-4.00__install-0"


def test_published_name_strips_known_prefix() -> None:
    parsed = parse_mlgym_run_name(f"metagen-gpt4o__regressionKaggleHousePrice__{CFG}__{TAIL}_run_0")
    assert parsed is not None
    assert (parsed.model, parsed.task_id, parsed.agent_config, parsed.run_index) == (
        "gpt4o",
        "regressionKaggleHousePrice",
        CFG,
        0,
    )


def test_leading_prefix_field_and_suffix_are_handled() -> None:
    # `default__` is a prefix field before the model; `__extra` is an optional suffix.
    parsed = parse_mlgym_run_name(
        f"default__metagen-llama3-405b__blotto__{CFG}__{TAIL}__extra_run_12"
    )
    assert parsed is not None
    assert (parsed.model, parsed.task_id, parsed.run_index) == ("llama3-405b", "blotto", 12)


def test_hyphens_inside_model_names_are_kept() -> None:
    # Only known organisation prefixes are stripped; "gpt-" is part of the model's name.
    parsed = parse_mlgym_run_name(f"gpt-4o__3SATTime__{CFG}__{TAIL}_run_1")
    assert parsed is not None and parsed.model == "gpt-4o"


@pytest.mark.parametrize("name", ["no_fields_here_run_0", "justonefield", f"task__cfg__{TAIL}"])
def test_non_mlgym_names_are_rejected(name: str) -> None:
    assert parse_mlgym_run_name(name) is None


def test_without_temperature_field_the_first_two_fields_are_model_and_task() -> None:
    parsed = parse_mlgym_run_name("metagen-gpt4o__blotto")
    assert parsed is not None
    assert (parsed.model, parsed.task_id, parsed.agent_config, parsed.run_index) == (
        "gpt4o",
        "blotto",
        None,
        None,
    )


def test_priority_metric_table_covers_the_thirteen_tasks() -> None:
    assert len(PRIORITY_METRICS) == 13
    assert PRIORITY_METRICS["3SATTime"] == ("Time", "min")
    assert PRIORITY_METRICS["languageModelingFineWeb"] == ("val_loss", "min")
    assert PRIORITY_METRICS["imageCaptioningCOCO"] == ("BLEU Score", "max")
    assert sum(d == "min" for _, d in PRIORITY_METRICS.values()) == 2
