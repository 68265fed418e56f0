"""The TRL rows go through TRL's own data helpers (`trl.data_utils`), as its trainers call them:
`is_conversational`, then `apply_chat_template` with a tokenizer's chat template. TRL's data
helpers need transformers but not torch, so they run here without the 5 GB torch its trainers
pull in (install.sh --dev installs trl without its dependencies). The tokenizer is built in
memory with a small chat template of our own that renders tools and tool calls, so nothing is
downloaded."""

from __future__ import annotations

import json

import pytest

from rgym.export.command import ExportOptions, export_runs

trl_data = pytest.importorskip("trl.data_utils", reason="trl is installed by install.sh --dev")

CHAT_TEMPLATE = (
    "{%- if tools %}<|tools|>{{ tools | tojson }}<|end|>\n{% endif -%}"
    "{%- for m in messages -%}"
    "<|{{ m.role }}|>{% if m.content %}{{ m.content }}{% endif %}"
    "{%- if m.tool_calls %}{% for c in m.tool_calls %}"
    "<|call|>{{ c.function.name }} {{ c.function.arguments | tojson }}"
    "{% endfor %}{% endif %}<|end|>\n"
    "{%- endfor -%}"
    "{%- if add_generation_prompt %}<|assistant|>{% endif -%}"
)


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({"[UNK]": 0, "<eos>": 1}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", eos_token="<eos>")
    tok.chat_template = CHAT_TEMPLATE
    return tok


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    "kind, per_step", [("sft", False), ("sft", True), ("rl", False)], ids=["sft", "step", "rl"]
)
def test_trl_rows_pass_trls_own_helpers(runs, tmp_path, tokenizer, kind, per_step):
    out = tmp_path / "trl.jsonl"
    export_runs([runs.root], out, ExportOptions(kind=kind, fmt="trl", per_step=per_step))
    examples = rows(out)
    assert examples
    for example in examples:
        assert trl_data.is_conversational(example)
        # raises on keys TRL does not know, and on a prompt that is not a prefix of
        # prompt + completion under the template
        text = trl_data.apply_chat_template(example, tokenizer, tools=example.get("tools"))
        assert text and all(isinstance(v, str) for v in text.values())
    if kind == "sft" and not per_step:  # the tools-protocol run's calls render as calls
        rendered = [
            trl_data.apply_chat_template(e, tokenizer, tools=e.get("tools"))["text"]
            for e in examples
        ]
        assert any("<|call|>" in r for r in rendered)
        assert any("<|tool|>" in r for r in rendered)
