"""The batch spec: YAML and flags, errors that name the file and the field, tasks checked
before anything starts."""

from __future__ import annotations

import pytest

from rgym.batch.spec import (
    FLAGS,
    BatchSpecError,
    check_matrix,
    load_spec,
    parse_spec,
    with_overrides,
)

FULL = """
name: sweep-1
tasks:
  - battle-of-sexes
  - blotto:tiny
  - id: prisoners-dilemma
    variant: tiny
    resources: {cpus: 1}
agents:
  - {}                                   # the task's demonstration, replayed
  - agent: replay
    actions: actions/nothing.yaml
    label: gives-up
  - model: openai/gpt-4o
    options: {temperature: 0.2}
    budget: {max_cost_usd: 2, max_steps: 30}
seeds: 3
resources: {cpus: 2}
max_cost_usd: 50
max_wall_seconds: 7200
retries: 1
workers: 4
"""


def write(tmp_path, text, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_full_spec_reads_with_defaults_and_paths_from_the_file(tmp_path):
    spec = load_spec(write(tmp_path, FULL))
    assert spec.name == "sweep-1"
    assert [(t.id, t.variant) for t in spec.tasks] == [
        ("battle-of-sexes", "default"),
        ("blotto", "tiny"),
        ("prisoners-dilemma", "tiny"),
    ]
    assert spec.seeds == [0, 1, 2]
    assert [a.agent for a in spec.agents] == ["replay", "replay", "default"]
    assert [a.who for a in spec.agents] == ["replay", "gives-up", "openai/gpt-4o"]
    assert spec.agents[1].actions == tmp_path / "actions" / "nothing.yaml"
    assert spec.agents[2].budget.max_cost_usd == 2
    # a task's own resources win over the batch-wide ones
    assert spec.run_resources(spec.tasks[2]).cpus == 1
    assert spec.run_resources(spec.tasks[0]).cpus == 2
    assert (spec.max_cost_usd, spec.retries, spec.workers) == (50, 1, 4)
    assert spec.matrix_size() == 27


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("tasks: [titanic]\nseed: 3\n", "seed", "Extra inputs"),
        ("tasks: []\n", "tasks", "at least 1"),
        ("tasks: [titanic]\nseeds: 0\n", "seeds", "at least 1"),
        ("tasks: [titanic]\nseeds: [1, 1]\n", "seeds", "repeat"),
        ("tasks: [titanic]\nagents: [{agent: default}]\n", "agents.0", "needs a model"),
        ("tasks: [titanic]\nagents: [{model: m}, {model: m}]\n", "(top level)", "label"),
        ("tasks: [titanic]\nagents: [{budget: {max_cost: 1}}]\n", "agents.0.budget", "Extra"),
        ("tasks: [titanic]\nresources: {memory_mb: 1}\n", "resources.memory_mb", "Extra"),
        ("tasks: [titanic]\nretries: -1\n", "retries", "greater than or equal"),
        ("tasks: [titanic]\nbackend: slurm\n", "backend", "'local' or 'ray'"),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path, text, field, words):
    path = write(tmp_path, text)
    with pytest.raises(BatchSpecError) as e:
        load_spec(path)
    assert e.value.field == field
    assert str(e.value).startswith(f"{path}: field {field!r}")
    assert words in str(e.value)


def test_not_yaml_and_missing_file(tmp_path):
    with pytest.raises(BatchSpecError, match=r"sweep.yaml: field '\(file\)': is not valid YAML"):
        load_spec(write(tmp_path, "tasks: [titanic\n"))
    with pytest.raises(BatchSpecError, match="cannot be read"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(BatchSpecError, match="expected a mapping"):
        load_spec(write(tmp_path, "- titanic\n"))


def test_unknown_tasks_and_variants_are_all_named_at_once():
    spec = parse_spec({"tasks": ["battle-of-sexs", "blotto:huge", "titanic"]})
    with pytest.raises(BatchSpecError) as e:
        check_matrix(spec)
    message = str(e.value)
    assert message.startswith(f"{FLAGS}: field 'tasks.0'")
    assert "Did you mean 'battle-of-sexes'" in message
    assert "tasks.1.variant: task 'blotto' has no variant 'huge'" in message
    found = check_matrix(parse_spec({"tasks": ["titanic", "blotto:tiny"]}))
    assert sorted(found) == [("blotto", "tiny"), ("titanic", "default")]


def test_overrides_replace_only_what_is_given_and_are_validated(tmp_path):
    spec = load_spec(write(tmp_path, FULL))
    changed = with_overrides(spec, "x", workers=1, retries=None, max_cost_usd=5)
    assert (changed.workers, changed.retries, changed.max_cost_usd) == (1, 1, 5)
    assert changed.agents == spec.agents
    with pytest.raises(BatchSpecError, match="x: field 'workers'"):
        with_overrides(spec, "x", workers=0)
