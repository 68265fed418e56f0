"""The sandbox commands (open, goto, scroll_*, create, edit, insert, search_*, find_file), run as
real executables with subprocess on a temp dir, and once through a real env sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rgym
from rgym.agent.tools import SPECS, tools_dir
from rgym.agent.tools.aci import lint, new_errors
from tests.conftest import requires_bwrap

SANDBOX_TOOLS = [s.name for s in SPECS if s.where == "sandbox"]


@pytest.fixture(scope="module")
def tools(tmp_path_factory):
    return tools_dir(window=10, root=tmp_path_factory.mktemp("aci"))


class Shell:
    """Runs the tools the way the sandbox does: executables on PATH, stdin from /dev/null
    unless text is given (a heredoc), state in a per-test file."""

    def __init__(self, tools: Path, cwd: Path):
        self.cwd = cwd
        self.env = {
            **os.environ,
            "RGYM_ACI_STATE": str(cwd.parent / "aci-state.json"),
            "PATH": f"{tools}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        }
        self.env.pop("RGYM_ACI_WINDOW", None)

    def __call__(self, *argv: str, text: str | None = None) -> tuple[int, str]:
        p = subprocess.run(
            list(argv),
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            input=None if text is None else text.encode(),
            stdin=subprocess.DEVNULL if text is None else None,
            timeout=30,
        )
        return p.returncode, (p.stdout + p.stderr).decode()

    def state(self) -> dict:
        return json.loads(Path(self.env["RGYM_ACI_STATE"]).read_text())


@pytest.fixture
def sh(tools, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    return Shell(tools, ws)


PY = "import os\n\n\ndef f(x):\n    return x + 1\n\n\nprint(f(2), os.sep)\n"


def test_every_tool_is_an_executable_with_help_from_the_spec(tools, sh):
    for name in SANDBOX_TOOLS:
        assert os.access(tools / name, os.X_OK)
        code, out = sh(name, "--help")
        spec = next(s for s in SPECS if s.name == name)
        assert code == 0 and spec.signature.splitlines()[0] in out and spec.docstring in out


def test_open_shows_a_numbered_window_and_goto_moves_it(sh):
    (sh.cwd / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 31)))
    code, out = sh("open", "n.txt")
    assert code == 0
    assert out.splitlines()[0] == f"[File: {sh.cwd / 'n.txt'} (30 lines total)]"
    assert "1:line 1" in out and "10:line 10" in out and "11:line 11" not in out
    assert "(20 more lines below)" in out
    code, out = sh("goto", "20")  # MLGym puts the line a sixth of the way down the window
    assert "(19 more lines above)" in out and "(1 more lines below)" in out
    assert "19:line 19" not in out and "20:line 20" in out and "29:line 29" in out
    code, out = sh("open", "n.txt", "30")
    assert "30:line 30" in out and "more lines below" not in out
    assert sh.state()["open_file"] == str(sh.cwd / "n.txt")


def test_scrolling_moves_by_a_window_and_stops_at_the_ends(sh):
    (sh.cwd / "n.txt").write_text("".join(f"{i}\n" for i in range(1, 31)))
    sh("open", "n.txt")
    _, out = sh("scroll_down")
    assert "9:9" in out and "18:18" in out and "(8 more lines above)" in out
    sh("scroll_down")
    _, out = sh("scroll_down")
    assert "30:30" in out and "Scrolling again and again" in out
    _, out = sh("scroll_down")  # at the bottom the window stays where it is
    assert "(20 more lines above)" in out and "21:21" in out and "30:30" in out
    sh("goto", "1")
    _, out = sh("scroll_up")
    assert "1:1" in out and "10:10" in out and "more lines above" not in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["open", "missing.py"], "not found"),
        (["open", "n.txt", "x"], "must be a whole number"),
        (["open", "n.txt", "-3"], "must be a whole number"),
        (["goto", "31"], "past the end"),
        (["goto", "1", "2"], "one line number"),
        (["open", "."], "is a directory"),
        (["open"], "Usage: open"),
        (["goto", "5"], "no file is open"),
        (["scroll_down"], "no file is open"),
        (["edit", "1:1"], "no file is open"),
        (["search_file", "x"], "no file is open"),
        (["search_dir", "x", "nowhere"], "not found"),
        (["find_file", "x", "nowhere"], "not found"),
        (["search_dir", "a", "b", "c"], "Quote a search term"),
    ],
)
def test_odd_inputs_are_refused_with_a_message(sh, argv, message):
    (sh.cwd / "n.txt").write_text("a\n" * 30)
    if argv[0] == "goto" and argv[1:] != ["5"]:
        sh("open", "n.txt")
    code, out = sh(*argv)
    assert code != 0 and message in out


def test_open_past_either_end_shows_the_nearest_line_as_mlgym_does(sh):
    (sh.cwd / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 31)))
    code, out = sh("open", "n.txt", "99")
    assert code == 0 and "past the end" in out and "30:line 30" in out
    code, out = sh("open", "n.txt", "0")
    assert code == 0 and "1:line 1" in out and "(20 more lines below)" in out


def test_open_at_a_line_refuses_a_big_file_and_keeps_the_open_one(sh):
    (sh.cwd / "small.txt").write_text("x\n")
    (sh.cwd / "big.txt").write_text(("y" * 99 + "\n") * 300)  # 30,000 characters
    sh("open", "small.txt")
    code, out = sh("open", "big.txt", "5")
    assert code == 1 and "head -n" in out
    assert sh.state()["open_file"] == str(sh.cwd / "small.txt")
    assert sh("open", "big.txt")[0] == 0  # without a line number it opens


def test_binary_files_are_refused(sh):
    (sh.cwd / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    code, out = sh("open", "blob.bin")
    assert code == 1 and "binary" in out
    code, out = sh("search_file", "binary", "blob.bin")
    assert code == 1 and "binary" in out
    (sh.cwd / "t.txt").write_text("binary word\n")
    _, out = sh("search_dir", "binary")
    assert "t.txt" in out and "blob.bin" not in out


def test_bytes_that_are_not_utf8_survive_an_edit(sh):
    path = sh.cwd / "latin1.txt"
    path.write_bytes(b"caf\xe9\nsecond\n")
    code, out = sh("open", "latin1.txt")
    assert code == 0 and "1:caf" in out
    code, out = sh("edit", "2:2", text="SECOND\n")
    assert code == 0
    assert path.read_bytes() == b"caf\xe9\nSECOND\n"


def test_crlf_files_keep_their_line_endings(sh):
    path = sh.cwd / "dos.txt"
    path.write_bytes(b"a\r\nb\r\n")
    sh("open", "dos.txt")
    sh("insert", "1", text="new\n")
    assert path.read_bytes() == b"a\r\nnew\r\nb\r\n"


def test_create_then_edit_fills_a_new_file(sh):
    code, out = sh("create", "sub/model.py")
    assert code == 0 and "(1 lines total)" in out and out.rstrip().endswith("1:")
    assert (sh.cwd / "sub/model.py").read_text() == "\n"  # one empty line, as MLGym writes
    code, out = sh("edit", "1:1", text="def g():\n    return 1\n")
    assert code == 0 and "File updated" in out and "2:    return 1" in out
    assert (sh.cwd / "sub/model.py").read_text() == "def g():\n    return 1\n"
    (sh.cwd / "other.txt").write_text("o\n")
    sh("open", "other.txt")
    code, out = sh("create", "sub/model.py")  # exists: unchanged, and opened (as in MLGym)
    assert code == 1 and "already exists" in out and "1:def g():" in out
    assert sh.state()["open_file"] == str(sh.cwd / "sub/model.py")
    assert (sh.cwd / "sub/model.py").read_text() == "def g():\n    return 1\n"


def test_edit_replaces_a_range_and_deletes_with_empty_text(sh):
    path = sh.cwd / "a.py"
    path.write_text(PY)
    sh("open", "a.py")
    code, out = sh("edit", "5:5", text="    y = x * 2\n    return y\n")
    assert code == 0
    assert path.read_text() == PY.replace("    return x + 1\n", "    y = x * 2\n    return y\n")
    code, _ = sh("edit", "2:3", text="")
    assert code == 0 and path.read_text().startswith("import os\ndef f(x):\n")


def test_edit_that_adds_an_undefined_name_is_rolled_back(sh):
    path = sh.cwd / "a.py"
    path.write_text(PY)
    sh("open", "a.py")
    code, out = sh("edit", "5:5", text="    return z + 1\n")
    assert code == 1
    assert "NOT applied" in out and "F821 undefined name 'z'" in out
    assert "5:    return z + 1" in out  # how it would have looked
    assert "5:    return x + 1" in out  # what is still there
    assert path.read_text() == PY


def test_edit_that_breaks_syntax_or_indentation_is_rolled_back(sh):
    path = sh.cwd / "a.py"
    path.write_text(PY)
    sh("open", "a.py")
    code, out = sh("edit", "5:5", text="  return (x + 1\n")
    assert code == 1 and "E999" in out and path.read_text() == PY
    code, out = sh("insert", "4", text="        pass\n  oops = 1\n")
    assert code == 1 and "E999" in out and path.read_text() == PY


def test_errors_already_there_do_not_block_an_edit(sh):
    path = sh.cwd / "b.py"
    path.write_text("print(undefined_a)\nx = 1\n")
    sh("open", "b.py")
    code, out = sh("edit", "2:2", text="x = 2\n")
    assert code == 0 and "still has errors" in out and "undefined_a" in out
    path.write_text("def broken(:\n    pass\n")
    code, out = sh("edit", "2:2", text="    return 1\n")  # already broken: accepted
    assert code == 0


def test_non_python_files_are_not_linted(sh):
    (sh.cwd / "notes.md").write_text("x\n")
    sh("open", "notes.md")
    assert sh("edit", "1:1", text="def (:\n")[0] == 0


@pytest.mark.parametrize("rng", ["0:1", "a:b", "3", "1:", ":2", "-1:2"])
def test_edit_ranges_that_are_not_ranges_are_refused(sh, rng):
    path = sh.cwd / "a.txt"
    path.write_text("1\n2\n3\n4\n")
    sh("open", "a.txt")
    code, out = sh("edit", rng, text="x\n")
    assert code != 0 and path.read_text() == "1\n2\n3\n4\n"


def test_edit_without_text_is_refused_rather_than_deleting(sh):
    path = sh.cwd / "a.txt"
    path.write_text("keep\n")
    sh("open", "a.txt")
    code, out = sh("edit", "1:1")
    assert code == 1 and "end_of_edit" in out and path.read_text() == "keep\n"
    assert "printf ''" in out  # and how to delete lines on purpose


def test_insert_at_top_middle_and_end(sh):
    path = sh.cwd / "a.txt"
    path.write_text("b\nd\n")
    sh("open", "a.txt")
    assert sh("insert", "0", text="a\n")[0] == 0
    assert sh("insert", "2", text="c\n")[0] == 0
    assert sh("insert", "4", text="e\n")[0] == 0
    assert path.read_text() == "a\nb\nc\nd\ne\n"
    assert sh("insert", "9", text="x\n")[0] == 0  # past the end appends, as in MLGym
    assert path.read_text() == "a\nb\nc\nd\ne\nx\n"
    assert sh("insert", "-1", text="x\n")[0] == 1


def test_a_read_only_file_is_reported_not_crashed(sh):
    if os.geteuid() == 0:
        pytest.skip("root can write read-only files")
    path = sh.cwd / "ro.txt"
    path.write_text("x\n")
    path.chmod(0o444)
    sh("open", "ro.txt")
    code, out = sh("edit", "1:1", text="y\n")
    assert code == 1 and "cannot write" in out


def test_search_dir_search_file_and_find_file(sh):
    (sh.cwd / "src").mkdir()
    (sh.cwd / "src/a.py").write_text("alpha = 1\nbeta = alpha\n")
    (sh.cwd / "src/b.txt").write_text("alpha\n")
    (sh.cwd / ".hidden").mkdir()
    (sh.cwd / ".hidden/c.py").write_text("alpha\n")
    code, out = sh("search_dir", "alpha")
    assert code == 0 and f'Found 3 matches for "alpha" in {sh.cwd}:' in out
    assert f"{sh.cwd}/src/a.py (2 matches)" in out and ".hidden" not in out
    _, out = sh("search_dir", "nothing-like-this", "src")
    assert "No matches" in out
    _, out = sh("search_file", "alpha", "src/a.py")
    assert "Line 1:alpha = 1" in out and "Line 2:beta = alpha" in out
    sh("open", "src/a.py")
    _, out = sh("search_file", "beta")
    assert "Line 2:beta = alpha" in out
    _, out = sh("find_file", "*.py")  # find -name: hidden folders included, as in MLGym
    assert f"{sh.cwd}/src/a.py" in out and f"{sh.cwd}/.hidden/c.py" in out
    _, out = sh("find_file", "a.py", "src")
    assert out.startswith(f'Found 1 matches for "a.py" in {sh.cwd}/src:')


def test_search_terms_are_grep_basic_regular_expressions(sh):
    (sh.cwd / "a.py").write_text("def train(x):\n    lr = 0.01\n    return x[0] * 2\n")
    sh("open", "a.py")
    cases = {
        "train(": [1],  # ( is literal in a basic regex
        "lr = 0.0.": [2],
        "^    r": [3],
        "x\\[0\\]": [3],
        "lr\\|return": [2, 3],
        "[[:digit:]]\\{2\\}": [2],
        "2$": [3],
        "*": [3],  # a leading * is literal
    }
    for term, lines in cases.items():
        _, out = sh("search_file", term)
        assert [int(x.split(":")[0][5:]) for x in out.splitlines() if x.startswith("Line ")] == (
            lines
        ), term
    _, out = sh("search_dir", "lr\\|return")
    assert f"{sh.cwd}/a.py (2 matches)" in out


def test_search_with_too_many_hits_asks_to_narrow(sh):
    (sh.cwd / "many.txt").write_text("hit\n" * 150)
    sh("open", "many.txt")
    _, out = sh("search_file", "hit")
    assert "Narrow the search" in out


# --- MLGym's semantics, command for command ---------------------------------------------------


def test_edit_past_the_end_replaces_to_the_end_as_mlgym_does(sh):
    """The case that broke replays: `edit 7:29` on a 26-line file (MLGym slices the line list,
    so the range is cut at the end of the file)."""
    path = sh.cwd / "s.txt"
    path.write_text("".join(f"{i}\n" for i in range(1, 27)))
    sh("open", "s.txt")
    code, out = sh("edit", "7:29", text="seven\neight\n")
    assert code == 0 and "File updated" in out
    assert path.read_text() == "".join(f"{i}\n" for i in range(1, 7)) + "seven\neight\n"
    code, _ = sh("edit", "40:45", text="appended\n")  # a start past the end appends
    assert code == 0 and path.read_text().endswith("eight\nappended\n")


def test_edit_with_start_after_end_inserts_and_keeps_lines_as_mlgym_does(sh):
    path = sh.cwd / "a.txt"
    path.write_text("1\n2\n3\n4\n5\n6\n")
    sh("open", "a.txt")
    assert sh("edit", "5:3", text="new\n")[0] == 0
    assert path.read_text() == "1\n2\n3\n4\nnew\n4\n5\n6\n"


def test_empty_text_deletes_and_deleting_everything_leaves_one_empty_line(sh):
    path = sh.cwd / "a.txt"
    path.write_text("1\n2\n3\n")
    sh("open", "a.txt")
    assert sh("edit", "2:2", text="")[0] == 0 and path.read_text() == "1\n3\n"
    code, out = sh("edit", "1:100", text="")
    assert code == 0 and path.read_text() == "\n" and "(1 lines total)" in out


@pytest.mark.parametrize(
    "window, n, command, shown, above, below",
    [
        # MLGym's window of 1000 lines: the top of a short file, and a line in a long one
        (1000, 30, ("open", "f.txt"), (1, 30), 0, 0),
        (1000, 3000, ("open", "f.txt", "2000"), (1835, 2834), 1834, 166),
        (1000, 3000, ("goto", "2990"), (2001, 3000), 2000, 0),
        (1000, 3000, ("goto", "1"), (1, 1000), 0, 2000),
        # an odd window: MLGym's arithmetic in halves (jq), floored and rounded
        (7, 30, ("open", "f.txt", "15"), (14, 20), 13, 10),
    ],
)
def test_the_window_is_placed_as_mlgyms(tools, tmp_path, window, n, command, shown, above, below):
    ws = tmp_path / "ws"
    ws.mkdir()
    sh = Shell(tools, ws)
    sh.env["RGYM_ACI_WINDOW"] = str(window)
    (ws / "f.txt").write_text("".join(f"L{i}\n" for i in range(1, n + 1)))
    sh("open", "f.txt")
    code, out = sh(*command)
    assert code == 0
    numbered = [int(x.split(":")[0]) for x in out.splitlines() if x[:1].isdigit()]
    assert (numbered[0], numbered[-1]) == shown
    assert (f"({above} more lines above)" in out) == (above > 0)
    assert (f"({below} more lines below)" in out) == (below > 0)


def test_an_edit_shows_the_window_from_the_line_before_its_start(tools, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    sh = Shell(tools, ws)
    (ws / "f.txt").write_text("".join(f"L{i}\n" for i in range(1, 31)))
    sh("open", "f.txt")
    _, out = sh("edit", "20:20", text="twenty\n")  # window 10: current line 19 -> lines 15-24
    numbered = [int(x.split(":")[0]) for x in out.splitlines() if x[:1].isdigit()]
    assert (numbered[0], numbered[-1]) == (15, 24) and "20:twenty" in out


def test_indentation_not_a_multiple_of_four_is_refused(sh):
    path = sh.cwd / "a.py"
    path.write_text(PY)
    sh("open", "a.py")
    code, out = sh("edit", "5:5", text="  return x + 2\n")
    assert code == 1 and "E111 indentation is not a multiple of 4" in out and path.read_text() == PY


def test_an_insert_above_old_errors_is_refused_as_in_mlgym(sh):
    """MLGym counts an insert as replacing as many lines as it adds, so errors already below
    it seem to move and count as new: the insert is refused (its rule, kept for replays)."""
    path = sh.cwd / "b.py"
    src = "x = 1\n\n\ndef h():\n    return q\n"
    path.write_text(src)
    sh("open", "b.py")
    code, out = sh("insert", "1", text="y = 2\n")
    assert code == 1 and "undefined name 'q'" in out and path.read_text() == src
    code, _ = sh("insert", "5", text="z = 3\n")  # below the error: nothing moves
    assert code == 0


def test_text_command_pipes_an_empty_text_so_it_deletes(tools, tmp_path):
    """bash gives an empty heredoc as /dev/null, the same stdin a command typed without any
    text gets, and edit refuses it (saying how to delete); text_command, used for MLGym
    replays, writes an empty text as an empty pipe, which deletes the lines as MLGym does."""
    from rgym.agent.tools import text_command

    ws = tmp_path / "ws"
    ws.mkdir()
    sh = Shell(tools, ws)
    (ws / "a.txt").write_text("1\n2\n3\n")
    sh("open", "a.txt")
    code, out = sh("bash", "-c", "edit 2:2 << 'end_of_edit'\nend_of_edit")
    assert code == 1 and "printf '' | edit" in out and (ws / "a.txt").read_text() == "1\n2\n3\n"
    assert text_command("edit 2:2", [], "end_of_edit") == "printf '' | edit 2:2"
    assert sh("bash", "-c", text_command("edit 2:2", [], "end_of_edit"))[0] == 0
    assert (ws / "a.txt").read_text() == "1\n3\n"
    one = text_command("edit 1:1", ["one"], "end_of_edit")
    assert one == "edit 1:1 << 'end_of_edit'\none\nend_of_edit"
    assert sh("bash", "-c", one)[0] == 0 and (ws / "a.txt").read_text() == "one\n3\n"


# --- the lint check itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "src",
    [
        "import os\nprint(os.sep)\n",
        "def f():\n    global G\n    G = 1\n\n\ndef g():\n    return G\n",
        "class A:\n    x = 1\n    y = [i for i in range(x)]\n\n    def m(self):\n"
        "        return A, self, __class__\n",
        "try:\n    import numpy as np\nexcept ImportError:\n    np = None\n",
        "from os import *\nprint(sep)\n",
        "def outer():\n    v = 1\n    def inner():\n        return v\n    return inner\n",
        "print([y for y in range(3)], (lambda q: q)(1), __file__, __name__)\n",
        "with open('x') as fh:\n    pass\nprint(fh)\nfor i in range(2):\n    pass\nprint(i)\n",
        "match 1:\n    case [a, *rest]:\n        print(a, rest)\n",
        "if (n := 3) > 2:\n    print(n)\n",
        "return undefined_here\n",  # flake8's selection has no check for this (F706)
        "x = [\n  1,\n   2]\nif x:\n\tpass\n    # a comment\n",  # continuation, tab, comment
    ],
)
def test_lint_accepts_valid_code(src):
    assert lint(src, "t.py") == []


@pytest.mark.parametrize(
    "src, expected",
    [
        ("print(nope)\n", "F821 undefined name 'nope'"),
        ("def f():\n    return missing\n", "F821 undefined name 'missing'"),
        (
            "class A:\n    def m(self):\n        return undefined_attr_holder\n",
            "F821 undefined name 'undefined_attr_holder'",
        ),
        ("class A:\n    x = 1\n    y = [x for _ in range(2)]\n", "F821 undefined name 'x'"),
        ("def f(:\n", "E999 SyntaxError"),
        ("if True:\nprint(1)\n", "E999 IndentationError"),
        ("def f():\n  return 1\n", "E111 indentation is not a multiple of 4"),
        ("def f(a, a):\n    pass\n", "F831 duplicate argument 'a'"),
        ('__all__ = ["a", "b"]\na = 1\n', "F822 undefined name 'b' in __all__"),
    ],
)
def test_lint_finds_errors(src, expected):
    errs = lint(src, "t.py")
    assert errs and errs[0][2].startswith(expected)


def test_new_errors_follow_mlgyms_rule():
    err = "F821 undefined name 'a'"
    # replaced lines 5-6 by 4 lines: an error below moves by 2, one above stays
    before = [(3, 1, err), (9, 1, err)]
    assert new_errors(before, [(3, 1, err), (11, 1, err)], (5, 6), 4) == []
    assert new_errors(before, [(3, 1, err), (9, 1, err)], (5, 6), 4) == [(9, 1, err)]
    # an error inside the replaced lines counts as new even when it was there before
    assert new_errors([(5, 1, err)], [(5, 1, err)], (5, 6), 2) == [(5, 1, err)]


# --- through a real sandbox -------------------------------------------------------------------


@requires_bwrap
def test_tools_work_inside_a_real_bwrap_sandbox(tools):
    env = rgym.make("titanic", tool_dirs=[tools])
    try:
        env.reset(seed=0)
        obs, *_ = env.step("open baseline.py")
        assert obs.startswith("[File: /home/agent/workspace/baseline.py (")
        obs, *_ = env.step("create model.py")
        assert "(1 lines total)" in obs
        obs, *_ = env.step(
            "edit 1:1 << 'end_of_edit'\nimport pandas as pd\n"
            "print(pd.read_csv('data/train.csv').shape)\nend_of_edit"
        )
        assert "File updated" in obs
        obs, *_ = env.step("python model.py")
        assert "(787, " in obs
        obs, *_ = env.step("edit 2:2 << 'end_of_edit'\nprint(pandas)\nend_of_edit")
        assert "NOT applied" in obs and "undefined name 'pandas'" in obs
        obs, *_ = env.step("search_dir Survived")
        assert "baseline.py" in obs
        obs, *_ = env.step("cd data && find_file '*.csv'")
        assert "train.csv" in obs and "test.csv" in obs
        obs, *_ = env.step("open train.csv && edit 1:1 << 'end_of_edit'\nx\nend_of_edit")
        assert "cannot write" in obs  # data/ is read-only for the agent
    finally:
        env.close()
