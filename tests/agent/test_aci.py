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
    code, out = sh("goto", "20")
    assert "(14 more lines above)" in out and "20:line 20" in out and "(6 more lines below)" in out
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
    _, out = sh("scroll_down")
    assert "Already at the bottom" in out
    sh("goto", "1")
    _, out = sh("scroll_up")
    assert "Already at the top" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["open", "missing.py"], "not found"),
        (["open", "n.txt", "0"], "out of range"),
        (["open", "n.txt", "31"], "out of range"),
        (["open", "n.txt", "x"], "must be a whole number"),
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
    code, out = sh(*argv)
    assert code != 0 and message in out


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
    assert code == 0 and "(0 lines total)" in out
    code, out = sh("edit", "1:1", text="def g():\n    return 1\n")
    assert code == 0 and "File updated" in out and "2:    return 1" in out
    assert (sh.cwd / "sub/model.py").read_text() == "def g():\n    return 1\n"
    code, out = sh("create", "sub/model.py")
    assert code == 1 and "already exists" in out


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


@pytest.mark.parametrize("rng", ["0:1", "3:1", "5:9", "a:b", "3"])
def test_edit_ranges_out_of_bounds_are_refused(sh, rng):
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


def test_insert_at_top_middle_and_end(sh):
    path = sh.cwd / "a.txt"
    path.write_text("b\nd\n")
    sh("open", "a.txt")
    assert sh("insert", "0", text="a\n")[0] == 0
    assert sh("insert", "2", text="c\n")[0] == 0
    assert sh("insert", "4", text="e\n")[0] == 0
    assert path.read_text() == "a\nb\nc\nd\ne\n"
    assert sh("insert", "9", text="x\n")[0] == 1


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
    assert code == 0 and 'Found 3 matches for "alpha"' in out
    assert "./src/a.py (2 matches)" in out and ".hidden" not in out
    _, out = sh("search_dir", "nothing-like-this", "src")
    assert "No matches" in out
    _, out = sh("search_file", "alpha", "src/a.py")
    assert "Line 1:alpha = 1" in out and "Line 2:beta = alpha" in out
    sh("open", "src/a.py")
    _, out = sh("search_file", "beta")
    assert "Line 2:beta = alpha" in out
    _, out = sh("find_file", "*.py")
    assert "./src/a.py" in out and "c.py" not in out
    _, out = sh("find_file", "a.py", "src")
    assert "src/a.py" in out


def test_search_with_too_many_hits_asks_to_narrow(sh):
    (sh.cwd / "many.txt").write_text("hit\n" * 150)
    sh("open", "many.txt")
    _, out = sh("search_file", "hit")
    assert "Narrow the search" in out


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
        ("return 1\n", "E999 SyntaxError"),
    ],
)
def test_lint_finds_errors(src, expected):
    errs = lint(src, "t.py")
    assert errs and errs[0][1].startswith(expected)


def test_new_errors_ignore_line_shifts_but_count_repeats():
    before = [(3, "F821 undefined name 'a'")]
    assert new_errors(before, [(9, "F821 undefined name 'a'")]) == []
    after = [(9, "F821 undefined name 'a'"), (10, "F821 undefined name 'a'")]
    assert len(new_errors(before, after)) == 1


# --- through a real sandbox -------------------------------------------------------------------


@requires_bwrap
def test_tools_work_inside_a_real_bwrap_sandbox(tools):
    env = rgym.make("titanic", tool_dirs=[tools])
    try:
        env.reset(seed=0)
        obs, *_ = env.step("open baseline.py")
        assert obs.startswith("[File: /home/agent/workspace/baseline.py (")
        obs, *_ = env.step("create model.py")
        assert "(0 lines total)" in obs
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
