"""The agent's file viewer, editor and search commands, run inside the sandbox.

Standard library only: it runs under the sandbox's `python3`, where rgym is not installed. The
tools folder holds this file as `_aci.py`, a small executable per command (`open`, `edit`, ...)
that calls `main(<command>, argv)`, and `_specs.json` (the tool specs, for `--help` and usage
errors) written from rgym.agent.tools.specs. State (the open file, the viewer's position, how
many scrolls in a row) lives in `aci.json` under $RGYM_STATE_DIR (default /tmp/.rgym), or in
$RGYM_ACI_STATE when set.

The commands behave as MLGym's do, so that MLGym trajectories replay to the same files:

- The viewer keeps a *current line* and shows the `window` lines around it (MLGym: 1000 lines,
  2 lines of overlap when scrolling). `open <path> <n>` and `goto <n>` put line n about a sixth
  of the way down the window; the position is clamped so the window stays inside the file;
  numbered lines read `<n>:<text>` under a `[File: <path> (<N> lines total)]` header, with
  `(<k> more lines above)` / `(<k> more lines below)` around them.
- `edit <start>:<end>` replaces lines start..end; an end past the last line replaces to the end
  of the file and a start past it appends, as MLGym's array slicing does. `insert <n>` inserts
  after line n. `create` writes a file holding one empty line.
- For `.py` files an edit is checked with the error classes MLGym selects from flake8 (syntax
  errors, indentation that is not a multiple of four, undefined names, undefined names in
  `__all__`, duplicate arguments); an edit is refused when it adds errors, with MLGym's rule for
  which errors count as added.
- `search_dir` / `search_file` take a grep basic regular expression and print absolute paths;
  `find_file` takes a shell pattern.

Files are read as bytes and decoded as UTF-8 with surrogateescape, so bytes that are not UTF-8
survive an edit unchanged; files with NUL bytes in their first 8 KiB count as binary and are
refused. `edit` and `insert` read their text from stdin (a heredoc the agent loop writes).
"""

import fnmatch
import json
import math
import os
import re
import stat
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
BINARY_PROBE = 8192
MAX_SEARCH_BYTES = 20_000_000
MAX_LISTED = 100
MAX_OPEN_AT_LINE_CHARS = 20_000
SCROLL_WARNING_AFTER = 3
DEFAULTS = {"window": 1000, "overlap": 2}
NUMBER = re.compile(r"^[0-9]+$")


class ToolError(Exception):
    """A message for the agent; the command exits with status 1."""


# --- config, specs, state ---------------------------------------------------------------------


def _json(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def config():
    cfg = {**DEFAULTS, **_json(os.path.join(HERE, "_config.json"), {})}
    if os.environ.get("RGYM_ACI_WINDOW", "").isdigit():
        cfg["window"] = max(1, int(os.environ["RGYM_ACI_WINDOW"]))
    return cfg


def spec(name):
    return _json(os.path.join(HERE, "_specs.json"), {}).get(name, {"name": name})


def usage(name):
    s = spec(name)
    return f"Usage: {s.get('signature', name)}\n(`{name} --help` explains it.)"


def help_text(name):
    s = spec(name)
    out = [s.get("signature", name), "", s.get("docstring", "")]
    if s.get("args"):
        out += ["", "Arguments:"]
        for a in s["args"]:
            req = "required" if a["required"] else "optional"
            out.append(f"  {a['name']} ({a['type']}, {req}): {a['description']}")
    return "\n".join(out)


def state_path():
    if os.environ.get("RGYM_ACI_STATE"):
        return os.environ["RGYM_ACI_STATE"]
    return os.path.join(os.environ.get("RGYM_STATE_DIR", "/tmp/.rgym"), "aci.json")


def load_state():
    return _json(state_path(), {})


def save_state(st):
    path = state_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(st, f)
    os.replace(tmp, path)


# --- files -------------------------------------------------------------------------------------


def _check_text(path, data):
    if b"\0" in data[:BINARY_PROBE]:
        raise ToolError(
            f"Error: {path} looks like a binary file (it contains NUL bytes); the "
            f"viewer shows text only. Inspect it with python, or `xxd {path} | head`."
        )


def read_lines(path):
    """The file's lines (without newlines) and whether it uses CRLF endings."""
    if not os.path.exists(path):
        raise ToolError(f"Error: file {path} not found.")
    if os.path.isdir(path):
        raise ToolError(f"Error: {path} is a directory. Use `ls {path}` or `find_file`.")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ToolError(f"Error: cannot read {path}: {e.strerror}.") from None
    _check_text(path, data)
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if lines[-1] == "":
        lines.pop()
    crlf = sum(line.endswith("\r") for line in lines) > len(lines) / 2
    return lines, crlf


def write_lines(path, lines):
    # Every line ends with a newline; no lines at all still writes one (an empty line), as
    # MLGym's `printf "%s\n"` over an empty array does.
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise ToolError(f"Error: cannot write {path}: {e.strerror}. Nothing was changed.") from None


def show(line):
    return line[:-1] if line.endswith("\r") else line


# --- the viewer's arithmetic (MLGym's, in floats where it uses jq) ------------------------------


def _round(x):
    """jq's round: halves away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def _num(x):
    """Integral floats as ints, so the state file and the output read 12, not 12.0."""
    return int(x) if float(x).is_integer() else x


def constrain(line, n, w):
    """Keep the current line where the window stays inside the file (top wins when it is short)."""
    half = w // 2
    return _num(max(min(line, n - half), half))


def at_line(line, w):
    """The current line that shows `line` about a sixth of the way down the window."""
    return _num(math.floor(max(line + w / 2 - w // 6, 1)))


def window(path, lines, current, w):
    """The viewer's text for the window around `current`."""
    n = len(lines)
    above = max(0, math.floor(current - w / 2))
    below = max(0, _round(n - current - w / 2))
    last = min(n, math.floor(max(current + w / 2, w / 2)))
    first = max(1, last - w + 1)
    out = [f"[File: {os.path.realpath(path)} ({n} lines total)]"]
    if above > 0:
        out.append(f"({above} more lines above)")
    out += [f"{i}:{show(lines[i - 1])}" for i in range(first, last + 1)]
    if below > 0:
        out.append(f"({below} more lines below)")
    return "\n".join(out)


def show_at(st, path, lines, current, cfg):
    """Move the viewer to `current` (clamped) in `path` and return the window's text."""
    current = constrain(current, len(lines), cfg["window"])
    st.update(open_file=os.path.realpath(path), current_line=current)
    return window(path, lines, current, cfg["window"])


def open_file_state(st):
    path = st.get("open_file")
    if not path:
        raise ToolError("Error: no file is open. Use `open <path>` first.")
    return path


def current_line(st, cfg):
    if "current_line" in st:
        return st["current_line"]
    return cfg["window"] / 2


def line_arg(text, what, name):
    if not NUMBER.match(text or ""):
        raise ToolError(f"Error: {what} must be a whole number, not {text!r}.\n{usage(name)}")
    return int(text)


# --- lint: MLGym's flake8 selection, from the standard library ------------------------------------

BUILTIN_NAMES = {
    "__file__",
    "__name__",
    "__doc__",
    "__builtins__",
    "__spec__",
    "__loader__",
    "__package__",
    "__path__",
    "__annotations__",
    "__module__",
    "__qualname__",
}


def _expand_indent(line):
    """Indentation width, tabs to the next multiple of 8 (pycodestyle's rule)."""
    width = 0
    for ch in line:
        if ch == "\t":
            width = width // 8 * 8 + 8
        elif ch == " ":
            width += 1
        else:
            break
    return width


def _indentation(source):
    """E111: a logical line indented by a width that is not a multiple of four."""
    import io
    import tokenize

    out, start = [], True
    skip = {tokenize.INDENT, tokenize.DEDENT, tokenize.NL, tokenize.COMMENT, tokenize.ENCODING}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NEWLINE:
                start = True
            elif tok.type == tokenize.ENDMARKER:
                break
            elif start and tok.type not in skip:
                start = False
                width = _expand_indent(tok.line)
                if width % 4:
                    out.append((tok.start[0], width + 1, "E111 indentation is not a multiple of 4"))
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


def _checked_nodes(tree):
    """Every node, except inside a `return` outside any function (pyflakes reports the return
    there, F706, and does not look into its value)."""
    import ast

    stack = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        yield node
        if isinstance(node, ast.Return) and not in_function:
            continue
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))


def _undefined(tree, source, filename):
    """F821 names used but never defined; F822 names in __all__ never defined."""
    import ast
    import builtins
    import symtable

    if any(
        isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
        for n in ast.walk(tree)
    ):
        return []  # `from x import *`: names cannot be known statically
    try:
        top = symtable.symtable(source, filename, "exec")
    except (SyntaxError, ValueError):
        return []  # e.g. a duplicate argument (reported as F831)
    known = set(dir(builtins)) | BUILTIN_NAMES
    tables = [top]
    for t in tables:
        tables.extend(t.get_children())
    for t in tables:
        for s in t.get_symbols():
            if t is top and (s.is_assigned() or s.is_imported() or s.is_namespace()):
                known.add(s.get_name())
            elif s.is_declared_global() and s.is_assigned():
                known.add(s.get_name())
    missing = set()
    for t in tables:
        for s in t.get_symbols():
            if s.is_referenced() and (t is top or s.is_global()) and s.get_name() not in known:
                missing.add(s.get_name())
    out = [
        (n.lineno, n.col_offset + 1, f"F821 undefined name {n.id!r}")
        for n in _checked_nodes(tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in missing
    ]
    if os.path.basename(filename) == "__init__.py":
        return out  # pyflakes leaves __all__ of a package's __init__ alone
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and isinstance(
            node.value, ast.List | ast.Tuple
        ):
            for elt in node.value.elts:
                name = elt.value if isinstance(elt, ast.Constant) else None
                if isinstance(name, str) and name not in known:
                    out.append((node.lineno, 1, f"F822 undefined name {name!r} in __all__"))
    return out


def _duplicate_args(tree):
    import ast

    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            a = node.args
            names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
            names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
            seen = set()
            for name in names:
                if name in seen:
                    out.append(
                        (
                            node.lineno,
                            node.col_offset + 1,
                            f"F831 duplicate argument {name!r} in function definition",
                        )
                    )
                seen.add(name)
    return out


def lint(source, filename):
    """[(line, column, message)], sorted: a syntax error alone (as flake8 reports it), or else
    indentation, undefined-name and duplicate-argument errors."""
    import ast

    try:
        tree = ast.parse(source, filename)
    except SyntaxError as e:
        return [(e.lineno or 1, e.offset or 1, f"E999 {type(e).__name__}: {e.msg}")]
    except ValueError as e:  # NUL bytes
        return [(1, 1, f"E902 {type(e).__name__}: {e}")]
    errors = _indentation(source) + _undefined(tree, source, filename) + _duplicate_args(tree)
    return sorted(errors)


def new_errors(before, after, replaced, n_lines):
    """Errors of `after` that do not count as already there (MLGym's rule).

    `replaced` is the (first, last) line range the command replaced and `n_lines` how many lines
    it put there. Errors from before the range keep their line; errors after it move by the
    change in length; errors inside it are forgotten (so they count as new if still there).
    An error is the same when its line, column and message are."""
    first, last = replaced
    shift = n_lines - (last - first + 1)
    old = set()
    for line, col, msg in before:
        if line < first:
            old.add((line, col, msg))
        elif line > last:
            old.add((line + shift, col, msg))
    return [e for e in after if e not in old]


def numbered(lines, start, stop):
    return "\n".join(f"{i}:{show(lines[i - 1])}" for i in range(start, stop + 1)) or "(none)"


# --- commands -----------------------------------------------------------------------------------


def cmd_open(args, st, cfg):
    if not args or not args[0]:
        raise ToolError(usage("open"))
    path, w = args[0], cfg["window"]
    if os.path.isdir(path):
        raise ToolError(f"Error: {path} is a directory; only files open. Use `ls {path}`.")
    if not os.path.isfile(path):
        raise ToolError(f"Error: file {path} not found.")
    notes, current = [], w / 2
    if len(args) > 1 and args[1] != "":
        line = line_arg(args[1], "line_number", "open")
        if os.path.getsize(path) > MAX_OPEN_AT_LINE_CHARS:
            raise ToolError(
                f"Error: {path} has more than {MAX_OPEN_AT_LINE_CHARS} characters; to see "
                f"part of it, use `head -n <lines> {path}` (or `sed -n 'a,bp' {path}`)."
            )
        lines, _ = read_lines(path)
        if line > len(lines):
            notes.append(
                f"Note: line {line} is past the end of the file ({len(lines)} lines); "
                f"showing line {len(lines)}."
            )
            current = len(lines)
        elif line < 1:
            notes.append("Note: lines start at 1; showing line 1.")
            current = 1
        else:
            current = at_line(line, w)
    else:
        lines, _ = read_lines(path)
    text = show_at(st, path, lines, current, cfg)
    return "\n".join([*notes, text])


def cmd_goto(args, st, cfg):
    if len(args) > 1:
        raise ToolError(f"Error: goto takes one line number.\n{usage('goto')}")
    path = open_file_state(st)
    if not args or not args[0]:
        raise ToolError(usage("goto"))
    line = line_arg(args[0], "line_number", "goto")
    lines, _ = read_lines(path)
    if line > len(lines):
        raise ToolError(f"Error: line {line} is past the end: {path} has {len(lines)} lines.")
    return show_at(st, path, lines, at_line(line, cfg["window"]), cfg)


def _scroll(st, cfg, direction):
    path = open_file_state(st)
    lines, _ = read_lines(path)
    step = cfg["window"] - cfg["overlap"]
    text = show_at(st, path, lines, current_line(st, cfg) + direction * step, cfg)
    st["scrolls"] = st.get("scrolls", 0) + 1
    if st["scrolls"] >= SCROLL_WARNING_AFTER:
        text += (
            "\n\nScrolling again and again spends many steps: `search_file <term>` or "
            "`goto <line>` go straight to what you are looking for.\n"
        )
    return text


def cmd_create(args, st, cfg):
    if not args or not args[0]:
        raise ToolError(usage("create"))
    path = args[0]
    if os.path.lexists(path):
        shown = ""
        if os.path.isfile(path):
            try:
                shown = "\n" + cmd_open([path], st, cfg)
            except ToolError as e:
                shown = f"\n{e}"
        raise ToolError(f"Error: {path} already exists; it is open instead.{shown}")
    try:
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(b"\n")  # one empty line, as MLGym's create writes
    except OSError as e:
        raise ToolError(f"Error: cannot create {path}: {e.strerror}.") from None
    return cmd_open([path], st, cfg)


def read_text_input(name):
    marker = spec(name).get("end_marker") or "end_of_edit"
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        mode = None
    if mode is None or stat.S_ISCHR(mode) or sys.stdin.isatty():
        raise ToolError(
            f"Error: {name} got no text. Put the text on the lines after the command, ended "
            f"by a line that is exactly `{marker}`. (An empty text arrives as no input at "
            f"all; to delete lines, pipe in nothing: `printf '' | edit 3:5`.)\n{usage(name)}"
        )
    data = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    lines = data.split("\n")
    if lines[-1] == "":
        lines.pop()
    if lines and lines[-1].strip() == marker:  # the agent wrote the marker inside the heredoc
        lines.pop()
    return lines


def refusal(name, path, lines, result, at, added, removed, bad):
    """Why an edit was not applied, what it would have made, and what is still there."""
    lo, hi = max(1, at - 3), min(len(result), at + max(added, 1) + 2)
    out = [f"Your {name} was NOT applied: it would add these errors to {path}:"]
    out += [f"- line {line}: {msg}" for line, _, msg in bad]
    out += ["", f"This is how lines {lo}-{hi} would have looked after it:"]
    out += [numbered(result, lo, hi), ""]
    if removed:
        stop = min(len(lines), at + removed - 1)
        out += [f"The lines it would have replaced (still in the file, {at}-{stop}):"]
        out += [numbered(lines, at, stop), ""]
    out.append(
        f"Fix the errors (or the line numbers) and issue a corrected {name}; the same one "
        "is refused again."
    )
    return "\n".join(out)


def apply(name, path, lines, crlf, keep, resume, new, replaced, st, cfg, current):
    """Write lines[:keep] + new + lines[resume:], checking Python files first (MLGym's rule)."""
    if crlf:
        new = [x if x.endswith("\r") else x + "\r" for x in new]
    result = lines[:keep] + new + lines[resume:]
    after = []
    if path.endswith(".py"):
        old_src = "".join(show(x) + "\n" for x in lines)
        new_src = "".join(show(x) + "\n" for x in (result or [""]))
        after = lint(new_src, path)
        bad = new_errors(lint(old_src, path), after, replaced, len(new))
        if bad:
            removed = max(0, min(len(lines), resume) - keep)
            return False, refusal(name, path, lines, result, keep + 1, len(new), removed, bad)
    write_lines(path, result)
    text = show_at(st, path, result or [""], current, cfg)
    text += (
        f"\nFile updated. Check the lines above: indentation, nothing duplicated or lost. "
        f"Use {name} again to fix anything wrong."
    )
    if after:
        text += "\nNote: the file still has errors it had before:\n" + "\n".join(
            f"- line {line}: {msg}" for line, _, msg in after[:10]
        )
    return True, text


def _writable(path):
    if not os.access(path, os.W_OK):
        raise ToolError(f"Error: cannot write {path}: it is read-only. Nothing was changed.")


def cmd_edit(args, st, cfg):
    path = open_file_state(st)
    parts = ((args[0] if args else "") + ":").split(":")
    a, b = parts[0], parts[1]
    if not a or not b:
        raise ToolError(usage("edit"))
    start, stop = line_arg(a, "start_line", "edit"), line_arg(b, "end_line", "edit")
    if start < 1:
        raise ToolError(f"Error: lines start at 1, not {start}.\n{usage('edit')}")
    lines, crlf = read_lines(path)
    _writable(path)
    new = read_text_input("edit")
    # lines start..stop are replaced; past the end, the slices are shorter (MLGym's rule)
    ok, text = apply(
        "edit", path, lines, crlf, start - 1, stop, new, (start, stop), st, cfg, start - 1
    )
    if not ok:
        raise ToolError(text)
    return text


def cmd_insert(args, st, cfg):
    path = open_file_state(st)
    if not args or not args[0]:
        raise ToolError(usage("insert"))
    line = line_arg(args[0], "line_number", "insert")
    lines, crlf = read_lines(path)
    _writable(path)
    new = read_text_input("insert")
    # MLGym counts an insert's window as replaced by as many lines: errors below keep their line
    window_ = (line + 1, line + len(new))
    ok, text = apply("insert", path, lines, crlf, line, line, new, window_, st, cfg, line + 1)
    if not ok:
        raise ToolError(text)
    return text


# --- search -------------------------------------------------------------------------------------

_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "xdigit": "0-9A-Fa-f",
    "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e",
    "graph": "\\x21-\\x7e",
    "word": "\\w",
}


def _bracket(pattern, i):
    """A POSIX bracket expression starting at pattern[i] == '[' as a Python class; its end."""
    j, out = i + 1, ["["]
    if j < len(pattern) and pattern[j] == "^":
        out.append("^")
        j += 1
    first = True
    while j < len(pattern):
        c = pattern[j]
        if c == "]" and not first:
            return "".join(out) + "]", j + 1
        if c == "[" and pattern[j + 1 : j + 2] == ":":
            end = pattern.find(":]", j + 2)
            if end < 0 or pattern[j + 2 : end] not in _CLASSES:
                raise ValueError("bad character class")
            out.append(_CLASSES[pattern[j + 2 : end]])
            j = end + 2
        else:
            out.append("\\" + c if c in "\\[]^" else c)
            j += 1
        first = False
    raise ValueError("unterminated [")


def bre(pattern):
    """A grep basic regular expression (GNU flavour) as a compiled Python regex."""
    out, i, n = [], 0, len(pattern)
    at_start = True  # where `*` is literal and `^` anchors
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            d = pattern[i + 1]
            i += 2
            if d in "()|":
                out.append(d)
                at_start = d in "(|"
                continue
            if d == "{":
                end = pattern.find("\\}", i)
                if end < 0:
                    raise ValueError("unterminated \\{")
                out.append("{" + pattern[i:end] + "}")
                i = end + 2
            elif d in "+?":
                out.append(d)
            elif d in "<>":
                out.append("\\b")
            elif d in "wWsSbB":
                out.append("\\" + d)
            elif d.isdigit():
                out.append("\\" + d)
            else:
                out.append(re.escape(d))
            at_start = False
            continue
        if c == "[":
            cls, i = _bracket(pattern, i)
            out.append(cls)
        elif c == "*":
            out.append("\\*" if at_start else "*")
            i += 1
        elif c == "^":
            out.append("^" if at_start else "\\^")
            i += 1
            at_start = out[-1] == "^"
            continue
        elif c == "$":
            end = i + 1 == n or pattern.startswith("\\)", i + 1) or pattern.startswith("\\|", i + 1)
            out.append("$" if end else "\\$")
            i += 1
        elif c == ".":
            out.append(".")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
        at_start = False
    return re.compile("".join(out))


def matcher(term):
    """A function telling whether a line matches `term` (a BRE; a plain string if it is not
    one Python can follow)."""
    try:
        rx = bre(term)
        return lambda line: rx.search(line) is not None
    except (ValueError, re.error):
        return lambda line: term in line


def _hidden(path):
    return "/." in path


def _files(root, skip_hidden):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or (skip_hidden and _hidden(path)):
                continue
            yield path


def _read_text(path):
    try:
        if os.path.getsize(path) > MAX_SEARCH_BYTES:
            return None
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"\0" in data[:BINARY_PROBE]:
        return None
    return data.decode("utf-8", "surrogateescape")


def _dir_arg(args, name):
    if len(args) not in (1, 2) or not args[0]:
        raise ToolError(f"{usage(name)}\nQuote a search term that has spaces.")
    if len(args) == 2 and not os.path.isdir(args[1]):
        raise ToolError(f"Error: directory {args[1]} not found.")
    return args[0], os.path.realpath(args[1] if len(args) == 2 else ".")


def cmd_search_dir(args, st, cfg):
    term, root = _dir_arg(args, "search_dir")
    match = matcher(term)
    hits = []
    for path in _files(root, skip_hidden=True):
        text = _read_text(path)
        if text is not None:
            k = sum(1 for line in text.split("\n") if match(line))
            if text.endswith("\n") and match(""):
                k -= 1  # the split's empty tail is not a line
            if k:
                hits.append((path, k))
    if not hits:
        return f'No matches found for "{term}" in {root}'
    if len(hits) > MAX_LISTED:
        return (
            f'{len(hits)} files matched "{term}" in {root}: too many to list. Narrow the '
            "search (a longer term, or a sub-folder)."
        )
    total = sum(k for _, k in hits)
    return "\n".join(
        [
            f'Found {total} matches for "{term}" in {root}:',
            *(f"{p} ({k} matches)" for p, k in hits),
            f'End of matches for "{term}" in {root}',
        ]
    )


def cmd_search_file(args, st, cfg):
    if not args or not args[0]:
        raise ToolError(f"{usage('search_file')}\nQuote a search term that has spaces.")
    term = args[0]
    if len(args) > 1 and args[1]:
        if not os.path.isfile(args[1]):
            raise ToolError(f"Error: file {args[1]} not found.\n{usage('search_file')}")
        path = args[1]
    else:
        path = open_file_state(st)
    path = os.path.realpath(path)
    lines, _ = read_lines(path)
    match = matcher(term)
    hits = [(i, show(line)) for i, line in enumerate(lines, 1) if match(show(line))]
    if not hits:
        return f'No matches found for "{term}" in {path}'
    if len(hits) > MAX_LISTED:
        return f'{len(hits)} lines matched "{term}" in {path}: too many to list. Narrow the search.'
    return "\n".join(
        [
            f'Found {len(hits)} matches for "{term}" in {path}:',
            *(f"Line {i}:{line}" for i, line in hits),
            f'End of matches for "{term}" in {path}',
        ]
    )


def cmd_find_file(args, st, cfg):
    if len(args) not in (1, 2) or not args[0]:
        raise ToolError(usage("find_file"))
    name, root = _dir_arg(args, "find_file")
    hits = [
        p for p in _files(root, skip_hidden=False) if fnmatch.fnmatchcase(os.path.basename(p), name)
    ]
    if not hits:
        return f'No matches found for "{name}" in {root}'
    return "\n".join([f'Found {len(hits)} matches for "{name}" in {root}:', *hits])


COMMANDS = {
    "open": cmd_open,
    "goto": cmd_goto,
    "create": cmd_create,
    "edit": cmd_edit,
    "insert": cmd_insert,
    "search_dir": cmd_search_dir,
    "search_file": cmd_search_file,
    "find_file": cmd_find_file,
    "scroll_down": lambda a, s, c: _scroll(s, c, 1),
    "scroll_up": lambda a, s, c: _scroll(s, c, -1),
}


def main(name, argv):
    """Run one command; returns its exit status (0 ok, 1 refused)."""
    sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    if argv[:1] in (["--help"], ["-h"]):
        print(help_text(name))
        return 0
    st = load_state()
    try:
        print(COMMANDS[name](argv, st, config()))
        code = 0
    except ToolError as e:
        print(e)
        code = 1
    if not name.startswith("scroll_"):
        st["scrolls"] = 0
    save_state(st)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
