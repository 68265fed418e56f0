"""One source of truth: the specs give the prompt docs, the tool schema and the tools folder."""

from __future__ import annotations

import json

import rgym
from rgym.agent.tools import SPECS, by_name, command_docs, install, openai_tools, tools_dir
from tests.conftest import requires_bwrap


def test_docs_and_schema_cover_every_spec():
    specs = by_name(memory=True)
    docs = command_docs(specs)
    schema = {t["function"]["name"]: t["function"] for t in openai_tools(specs)}
    assert set(schema) == {s.name for s in SPECS} | {"bash"}
    for s in SPECS:
        assert f"{s.name}:\n  docstring: {s.docstring}" in docs
        assert schema[s.name]["description"] == s.docstring
        assert set(schema[s.name]["parameters"]["properties"]) == {a.name for a in s.args}
    assert "memory_write" not in command_docs(by_name())
    assert "validate" in command_docs(by_name()) and "submit" in command_docs(by_name())


def test_the_tools_folder_is_built_once_per_content(tmp_path):
    a = tools_dir(window=50, root=tmp_path)
    assert tools_dir(window=50, root=tmp_path) == a
    b = tools_dir(window=60, root=tmp_path)
    assert b != a and json.loads((b / "_config.json").read_text())["window"] == 60
    specs = json.loads((a / "_specs.json").read_text())
    assert specs["edit"]["end_marker"] == "end_of_edit"
    assert sorted(p.name for p in a.iterdir() if not p.name.startswith("_")) == sorted(
        s.name for s in SPECS if s.where == "sandbox"
    )


@requires_bwrap
def test_tools_are_installed_into_a_sandbox_started_without_them(tmp_path):
    env = rgym.make("titanic")
    try:
        env.reset(seed=0)
        assert "command not found" in env.step("goto 1")[0]
        assert install(env, tools_dir(window=5, root=tmp_path)) is True
        obs, *_ = env.step("open baseline.py")
        assert "(5 lines total)" not in obs and "more lines below" in obs
        assert install(rgym.make("titanic", tool_dirs=[tmp_path]), tmp_path) is False
    finally:
        env.close()
