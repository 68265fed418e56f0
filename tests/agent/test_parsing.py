"""Replies -> actions: the text protocol, heredoc rewriting, and the tool-calling protocol."""

from __future__ import annotations

import pytest

from rgym.agent.parsing import FormatError, heredocs, parse_text, parse_tool_calls
from rgym.agent.tools import by_name
from rgym.models import ModelResponse, ToolCall

MARKERS = {"edit": "end_of_edit", "insert": "end_of_insert"}
SPECS = by_name()


def test_discussion_then_one_block():
    thought, action = parse_text("I will list files.\n```bash\nls -la\n```\n", MARKERS)
    assert thought == "I will list files." and action == "ls -la"


def test_text_after_the_block_belongs_to_the_thought():
    thought, action = parse_text("before\n```\npwd\n```\nafter", MARKERS)
    assert thought == "before\nafter" and action == "pwd"


@pytest.mark.parametrize(
    "reply, reason",
    [
        ("just words", "no command block"),
        ("", "no command block"),
        ("```\nls\n```\n```\npwd\n```", "2 command blocks"),
        ("```\nls", "not closed"),
        ("```\n\n```", "empty"),
        ("```\nvim train.py\n```", "interactive"),
        ("```\npython\n```", "interactive"),
    ],
)
def test_unusable_replies_say_why(reply, reason):
    with pytest.raises(FormatError, match=reason):
        parse_text(reply, MARKERS)


def test_python_with_a_script_is_not_interactive():
    assert parse_text("```\npython train.py\n```", MARKERS)[1] == "python train.py"


def test_edit_blocks_become_quoted_heredocs():
    reply = "Fix it.\n```\nedit 3:4\n    x = '$HOME'\n\n    y = `cmd`\nend_of_edit\n```"
    _, action = parse_text(reply, MARKERS)
    assert action == ("edit 3:4 << 'end_of_edit'\n    x = '$HOME'\n\n    y = `cmd`\nend_of_edit")


def test_insert_and_a_following_command_in_the_same_block():
    action = heredocs("insert 0\n# top\nend_of_insert\npython a.py", MARKERS)
    assert action == "insert 0 << 'end_of_insert'\n# top\nend_of_insert\npython a.py"


def test_edit_text_is_never_run_as_shell_commands():
    assert (
        heredocs("edit 1:2\nrm -rf data\nx = 1", MARKERS)
        == "edit 1:2 << 'end_of_edit'\nrm -rf data\nx = 1\nend_of_edit"
    )
    assert (
        heredocs("insert 3\nx = 1\nend_of_edit\nls", MARKERS)
        == "insert 3 << 'end_of_insert'\nx = 1\nend_of_insert\nls"
    )


def test_heredocs_written_by_the_model_are_left_alone():
    already = "edit 1:1 << 'end_of_edit'\nx\nend_of_edit"
    assert heredocs(already, MARKERS) == already
    no_marker = "edit 1:2"
    assert heredocs(no_marker, MARKERS) == no_marker


def resp(*calls: ToolCall, content: str = "") -> ModelResponse:
    return ModelResponse(content=content, tool_calls=list(calls))


def test_tool_calls_render_to_commands():
    def one(name, args):
        return parse_tool_calls(resp(ToolCall(name=name, arguments=args)), SPECS)[1]

    assert one("bash", '{"command": "ls -la"}') == "ls -la"
    assert one("open", '{"path": "my file.py", "line_number": "7"}') == "open 'my file.py' 7"
    assert one("open", '{"path": "a.py"}') == "open a.py"
    assert (
        one("search_dir", '{"search_term": "def main", "dir": "src"}')
        == "search_dir 'def main' src"
    )
    assert (
        one("edit", '{"start_line": 2, "end_line": 3, "replacement_text": "a\\nb\\n"}')
        == "edit 2:3 << 'end_of_edit'\na\nb\nend_of_edit"
    )
    assert (
        one("edit", '{"start_line": 2, "end_line": 3, "replacement_text": ""}')
        == "edit 2:3 << 'end_of_edit'\nend_of_edit"
    )
    assert one("validate", "{}") == "validate" and one("submit", "") == "submit"


@pytest.mark.parametrize(
    "calls, reason",
    [
        ([], "called no tool"),
        ([ToolCall(name="bash", arguments='{"command": "ls"}')] * 2, "called 2 tools"),
        ([ToolCall(name="rm_rf", arguments="{}")], "unknown tool 'rm_rf'"),
        ([ToolCall(name="open", arguments="{not json")], "not valid JSON"),
        ([ToolCall(name="open", arguments="[1]")], "must be a JSON object"),
        ([ToolCall(name="goto", arguments="{}")], "needs the argument 'line_number'"),
        ([ToolCall(name="goto", arguments='{"line_number": "ten"}')], "must be an integer"),
        ([ToolCall(name="memory_read", arguments='{"query": "x"}')], "unknown tool"),
    ],
)
def test_bad_tool_calls_say_why(calls, reason):
    with pytest.raises(FormatError, match=reason):
        parse_tool_calls(resp(*calls), SPECS)
