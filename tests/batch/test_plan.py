"""Planning: run ids deterministic from the cell, the manifest, a changed spec refused, and
`rgym report` counting each cell of a batch once."""

from __future__ import annotations

import json
import re

import pytest

from rgym.batch.plan import MANIFEST, open_batch, plan_cells
from rgym.batch.spec import check_matrix, parse_spec
from rgym.errors import ConfigError
from rgym.metrics.runs import find_run_dirs

SPEC = {
    "tasks": ["battle-of-sexes", {"id": "blotto", "variant": "tiny", "resources": {"cpus": 1}}],
    "agents": [{}, {"model": "openai/gpt-4o", "options": {"temperature": 0.5}}],
    "seeds": [0, 7],
}


def plan(data):
    spec = parse_spec(data)
    return spec, plan_cells(spec, check_matrix(spec))


def test_run_ids_are_readable_unique_and_deterministic():
    _, cells = plan(SPEC)
    assert len(cells) == 8
    assert len({c.run_id for c in cells}) == 8
    assert len({c.cell for c in cells}) == 8
    first = cells[0]
    assert re.fullmatch(r"battle-of-sexes__default__replay__s0__[0-9a-f]{8}", first.run_id)
    assert first.cell == "battle-of-sexes:default/replay/s0"
    assert any(c.run_id.startswith("blotto__tiny__openai_gpt-4o__s7__") for c in cells)
    # seed by seed: a stopped batch has whole passes
    assert [c.seed for c in cells] == [0, 0, 0, 0, 7, 7, 7, 7]
    # the same spec plans the same ids, whatever order the spec lists its entries in
    reordered = {**SPEC, "tasks": SPEC["tasks"][::-1], "agents": SPEC["agents"][::-1]}
    assert {c.run_id for c in plan(reordered)[1]} == {c.run_id for c in cells}


def test_a_changed_option_or_budget_is_a_different_run():
    _, cells = plan(SPEC)
    ids = {c.run_id for c in cells}
    other = {**SPEC, "agents": [{}, {"model": "openai/gpt-4o", "options": {"temperature": 0.6}}]}
    changed = {c.run_id for c in plan(other)[1]} - ids
    assert len(changed) == 4 and all("openai_gpt-4o" in r for r in changed)
    budget = {**SPEC, "agents": [{"budget": {"max_steps": 3}}, SPEC["agents"][1]]}
    assert len({c.run_id for c in plan(budget)[1]} - ids) == 4


def test_slots_and_cpu_quota_follow_the_resources():
    _, cells = plan(SPEC)
    bos = next(c for c in cells if c.task_id == "battle-of-sexes")
    blotto = next(c for c in cells if c.task_id == "blotto")
    assert (bos.slots.cpus, bos.config["cpus"]) == (2, None)  # the task's own 2 CPUs
    assert (blotto.slots.cpus, blotto.config["cpus"]) == (1, 1.0)
    assert bos.slots.memory_mb == 2048
    _, halves = plan({**SPEC, "resources": {"cpus": 1.5}})
    assert {(c.slots.cpus, c.config["cpus"]) for c in halves if c.task_id != "blotto"} == {(2, 1.5)}


def test_manifest_lists_every_cell(tmp_path):
    spec, cells = plan(SPEC)
    out = tmp_path / "b"
    assert open_batch(out, spec, cells, resume=False) is False
    data = json.loads((out / MANIFEST).read_text())
    assert data["schema_version"] == 1 and data["name"] == "batch"
    assert data["spec"]["seeds"] == [0, 7]
    assert [c["run_id"] for c in data["cells"]] == [c.run_id for c in cells]
    keys = {"cell", "run_id", "task", "variant", "agent", "model", "seed", "config"}
    assert keys <= set(data["cells"][0])
    assert data["cells"][0]["config"]["task"] == "battle-of-sexes"
    assert "runs_dir" not in data["cells"][0]["config"]


def test_the_batch_folder_holds_one_matrix(tmp_path):
    spec, cells = plan(SPEC)
    out = tmp_path / "b"
    open_batch(out, spec, cells, resume=False)
    with pytest.raises(ConfigError, match="already holds batch 'batch' .8 runs.; pass --resume"):
        open_batch(out, spec, cells, resume=False)
    assert open_batch(out, spec, cells, resume=True) is True
    # pool and limits may change on resume
    relaxed = parse_spec({**SPEC, "workers": 1, "max_cost_usd": 3, "retries": 0})
    assert open_batch(out, relaxed, plan_cells(relaxed, check_matrix(relaxed)), resume=True)
    more, more_cells = plan({**SPEC, "seeds": [0, 7, 8]})
    with pytest.raises(ConfigError, match=r"another spec: this spec has 4 run\(s\) not in it"):
        open_batch(out, more, more_cells, resume=True)
    fewer, fewer_cells = plan({**SPEC, "seeds": [0]})
    with pytest.raises(ConfigError, match=r"4 of its run\(s\) missing"):
        open_batch(out, fewer, fewer_cells, resume=True)
    quota, quota_cells = plan({**SPEC, "resources": {"cpus": 1}})  # same cells, new quota
    with pytest.raises(ConfigError, match=r"is configured differently: cpus: None -> 1.0"):
        open_batch(out, quota, quota_cells, resume=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and holds no batch.json"):
        open_batch(tmp_path / "other", spec, cells, resume=True)


def test_report_walk_skips_the_attempts_of_a_batch_only(tmp_path):
    def run(path):
        path.mkdir(parents=True)
        (path / "result.json").write_text("{}")

    batch = tmp_path / "b"
    run(batch / "runs" / "r1")
    run(batch / "attempts" / "r1" / "attempt-1")
    (batch / "batch.json").write_text("{}")
    run(tmp_path / "loose" / "attempts" / "a")  # not a batch: an ordinary folder name
    found = [p.relative_to(tmp_path).as_posix() for _, p in find_run_dirs([tmp_path])]
    assert found == ["b/runs/r1", "loose/attempts/a"]
