"""Whatever an agent put in its record comes out as valid, bounded training data: odd unicode
(a lone surrogate JSON can carry but UTF-8 cannot, NUL, bidi overrides, emoji, combining
marks), a megabyte of output, a huge reply, NaN in scores."""

from __future__ import annotations

import json

import datasets

from rgym.agent.history import truncate
from rgym.export.command import ExportOptions, export_runs
from rgym.export.texts import MAX_TEXT_CHARS

ODD = "nul\x00 rtl\u202etxt emoji\U0001f9ea e\u0301 zero\u200bwidth"
LONE = "\ud800"


def poison(run_dir) -> None:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    call = next(e for e in events if e["type"] == "model_call" and e["outcome"] == "ok")
    call["content"] = f"{LONE}{ODD}\n" + "y" * 300_000 + "\n" + call["content"]
    obs = next(e for e in events if e["type"] == "observation")
    sent = next(e for e in events if e["type"] == "message" and e["kind"] == "observation")
    assert sent["content"].startswith(obs["observation"])
    footer = sent["content"].removeprefix(obs["observation"])
    obs["observation"] = ODD + "x" * 1_000_000 + LONE
    # what the agent sent for that output: its own cut (max_observation_chars), then the footer
    sent["content"] = truncate(obs["observation"], 10_000) + footer
    # json.dumps writes the lone surrogate as the escape \ud800: valid JSON, not valid UTF-8
    (run_dir / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    result = json.loads((run_dir / "result.json").read_text())
    result["dev_scores"] = [float("nan"), *result["dev_scores"]]
    result["integrity"]["limits_in_force"]["cpus"] = float("inf")
    (run_dir / "result.json").write_text(json.dumps(result))


def texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from texts(v)


def test_hostile_texts_come_out_valid_and_bounded(runs, tmp_path):
    run_dir = runs.copy(runs.text, tmp_path / "runs")
    poison(run_dir)
    datasets.disable_progress_bars()
    for kind, out in [("sft", "a.jsonl"), ("sft", "a.parquet"), ("rl", "b.jsonl")]:
        out = tmp_path / out
        report = export_runs([tmp_path / "runs"], out, ExportOptions(kind=kind))
        assert report.rows == 1 and not report.warnings
        if out.suffix == ".jsonl":
            raw = out.read_bytes().decode("utf-8")  # strict: valid UTF-8 throughout
            assert "NaN" not in raw and "Infinity" not in raw
        kind_of = "parquet" if out.suffix == ".parquet" else "json"
        (row,) = datasets.load_dataset(kind_of, data_files=str(out), split="train")
        every = list(texts(row))
        assert all(len(t) <= MAX_TEXT_CHARS + 200 for t in every)
        joined = "".join(every)
        assert ODD in joined and LONE not in joined and "\ufffd" in joined
        meta = row["metadata"]
        assert meta["texts_cut"] >= 1 and None not in meta["dev_scores"]
        assert meta["integrity"]["limits_in_force"]["cpus"] is None
        if kind == "sft":  # the agent's own cut at 10,000 characters, as the model saw it
            cut = "characters cut from the middle of this output"
            outputs = [m["content"] for m in row["messages"] if m["role"] == "user"]
            output = next(c for c in outputs if cut in c)
            assert len(output) < 11_000
            reply = next(m["content"] for m in row["messages"] if m["role"] == "assistant")
            assert "characters cut here by rgym export" in reply  # the 300 kB reply
        else:
            assert len(row["steps"][1]["observation"]) <= MAX_TEXT_CHARS + 200
