"""The agent's file viewer, editor and search commands, run inside the sandbox.

Standard library only: it runs under the sandbox's `python3`, where rgym is not installed. The
tools folder holds this file as `_aci.py`, a small executable per command (`open`, `edit`, ...)
that calls `main(<command>, argv)`, and `_specs.json` (the tool specs, for `--help` and usage
errors) written from rgym.agent.tools.specs. State (the open file, the window position, how many
scrolls in a row) lives in `aci.json` under $RGYM_STATE_DIR (default /tmp/.rgym), or in
$RGYM_ACI_STATE when set.

Files are read as bytes and decoded as UTF-8 with surrogateescape, so bytes that are not UTF-8
survive an edit unchanged; files with NUL bytes in their first 8 KiB count as binary and are
refused. `edit` and `insert` read their text from stdin (a heredoc the agent loop writes); for a
`.py` file the result is checked for syntax errors and undefined names before it is written, and
an edit that adds errors is not written at all.
"""

import fnmatch
import json
import os
import stat
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
BINARY_PROBE = 8192
MAX_SEARCH_BYTES = 20_000_000
MAX_LISTED = 100
DEFAULTS = {"window": 100, "overlap": 2}


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
    if b"\0" in data[:BINARY_PROBE]:
        raise ToolError(
            f"Error: {path} looks like a binary file (it contains NUL bytes); the "
            f"viewer shows text only. Inspect it with python, or `xxd {path} | head`."
        )
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if lines[-1] == "":
        lines.pop()
    crlf = sum(line.endswith("\r") for line in lines) > len(lines) / 2
    return lines, crlf


def write_lines(path, lines):
    data = ("\n".join(lines) + "\n" if lines else "").encode("utf-8", "surrogateescape")
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise ToolError(f"Error: cannot write {path}: {e.strerror}. Nothing was changed.") from None


def show(line):
    return line[:-1] if line.endswith("\r") else line


def window(path, lines, first, cfg):
    """The viewer's text for `lines` starting at line `first` (1-based)."""
    n, size = len(lines), cfg["window"]
    first = max(1, min(first, max(1, n - size + 1)))
    last = min(n, first + size - 1)
    out = [f"[File: {os.path.abspath(path)} ({n} lines total)]"]
    if n == 0:
        out.append("(the file is empty)")
        return "\n".join(out), first
    if first > 1:
        out.append(f"({first - 1} more lines above)")
    out += [f"{i}:{show(lines[i - 1])}" for i in range(first, last + 1)]
    if last < n:
        out.append(f"({n - last} more lines below)")
    return "\n".join(out), first


def centred(line, cfg):
    return line - cfg["window"] // 2


def open_file_state(st):
    path = st.get("open_file")
    if not path:
        raise ToolError("Error: no file is open. Use `open <path>` first.")
    return path


def parse_int(text, what, name):
    try:
        return int(text)
    except ValueError:
        raise ToolError(
            f"Error: {what} must be a whole number, not {text!r}.\n{usage(name)}"
        ) from None


# --- lint: syntax errors and undefined names ------------------------------------------------------


def lint(source, filename):
    """[(line, message)] for syntax errors, or else for names used but never defined."""
    import ast
    import builtins
    import symtable

    try:
        compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as e:
        return [(e.lineno or 0, f"E999 {type(e).__name__}: {e.msg}")]
    except (ValueError, UnicodeError) as e:
        return [(0, f"E902 {type(e).__name__}: {e}")]
    tree = ast.parse(source)
    if any(
        isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
        for n in ast.walk(tree)
    ):
        return []  # `from x import *`: names cannot be known statically
    top = symtable.symtable(source, filename, "exec")
    known = set(dir(builtins)) | {
        "__file__",
        "__name__",
        "__doc__",
        "__builtins__",
        "__spec__",
        "__loader__",
        "__package__",
        "__path__",
        "__annotations__",
    }
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
    if not missing:
        return []
    return sorted(
        (n.lineno, f"F821 undefined name {n.id!r}")
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in missing
    )


def new_errors(before, after):
    """Errors of `after` that `before` did not have (compared by message, not line)."""
    from collections import Counter

    extra = Counter(m for _, m in after) - Counter(m for _, m in before)
    out = []
    for line, msg in after:
        if extra[msg] > 0:
            extra[msg] -= 1
            out.append((line, msg))
    return out


def numbered(lines, start, stop):
    return "\n".join(f"{i}:{show(lines[i - 1])}" for i in range(start, stop + 1)) or "(none)"


# --- commands -----------------------------------------------------------------------------------


def cmd_open(args, st, cfg):
    if len(args) not in (1, 2):
        raise ToolError(usage("open"))
    path = args[0]
    lines, _ = read_lines(path)
    first = 1
    if len(args) == 2:
        line = parse_int(args[1], "line_number", "open")
        if not 1 <= line <= max(1, len(lines)):
            raise ToolError(
                f"Error: line_number {line} is out of range: {path} has {len(lines)} lines."
            )
        first = centred(line, cfg)
    text, first = window(path, lines, first, cfg)
    st.update(open_file=os.path.abspath(path), first=first, scrolls=0)
    return text


def cmd_goto(args, st, cfg):
    if len(args) != 1:
        raise ToolError(usage("goto"))
    path = open_file_state(st)
    lines, _ = read_lines(path)
    line = parse_int(args[0], "line_number", "goto")
    if not 1 <= line <= max(1, len(lines)):
        raise ToolError(
            f"Error: line_number {line} is out of range: {path} has {len(lines)} lines."
        )
    text, st["first"] = window(path, lines, centred(line, cfg), cfg)
    st["scrolls"] = 0
    return text


def _scroll(args, st, cfg, direction, name):
    if args:
        raise ToolError(usage(name))
    path = open_file_state(st)
    lines, _ = read_lines(path)
    first = st.get("first", 1)
    step = max(1, cfg["window"] - cfg["overlap"])
    if direction > 0 and first + cfg["window"] > len(lines):
        return f"Already at the bottom of {path}."
    if direction < 0 and first <= 1:
        return f"Already at the top of {path}."
    text, st["first"] = window(path, lines, first + direction * step, cfg)
    st["scrolls"] = st.get("scrolls", 0) + 1
    if st["scrolls"] >= 3:
        text += (
            "\nScrolling again and again spends many steps: `search_file <term>` or "
            "`goto <line>` go straight to what you are looking for."
        )
    return text


def cmd_create(args, st, cfg):
    if len(args) != 1:
        raise ToolError(usage("create"))
    path = args[0]
    if os.path.exists(path):
        raise ToolError(f"Error: {path} already exists. Open it with `open {path}`.")
    try:
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").close()
    except OSError as e:
        raise ToolError(f"Error: cannot create {path}: {e.strerror}.") from None
    text, first = window(path, [], 1, cfg)
    st.update(open_file=os.path.abspath(path), first=first, scrolls=0)
    return f"{text}\nCreated {path}. Add its content with `edit 1:1`."


def read_text_input(name):
    marker = spec(name).get("end_marker") or "end_of_edit"
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        mode = None
    if mode is None or stat.S_ISCHR(mode) or sys.stdin.isatty():
        raise ToolError(
            f"Error: {name} needs its text on the lines after the command, ended by "
            f"a line that is exactly `{marker}`.\n{usage(name)}"
        )
    data = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    lines = data.split("\n")
    if lines[-1] == "":
        lines.pop()
    if lines and lines[-1].strip() == marker:  # the agent wrote the marker inside the heredoc
        lines.pop()
    return lines


def refusal(name, path, lines, result, start, stop, added, bad):
    """Why an edit was not applied, what it would have made, and what is still there."""
    lo, hi = max(1, start - 3), min(len(result), start + max(added, 1) + 2)
    out = [f"Your {name} was NOT applied: it would add these errors to {path}:"]
    out += [f"- line {line}: {msg}" for line, msg in bad]
    out += ["", f"This is how lines {lo}-{hi} would have looked after it:"]
    out += [numbered(result, lo, hi), ""]
    if stop >= start:
        out += [f"The lines it would have replaced (still in the file, {start}-{stop}):"]
        out += [numbered(lines, start, stop), ""]
    out.append(f"Fix the errors and issue a corrected {name}; the same one is refused again.")
    return "\n".join(out)


def apply(name, path, lines, crlf, start, stop, new, st, cfg):
    """Replace lines[start-1:stop] with `new`, checking Python files first."""
    if crlf:
        new = [x if x.endswith("\r") else x + "\r" for x in new]
    result = lines[: start - 1] + new + lines[stop:]
    before = after = []
    if path.endswith(".py"):
        old_src = "\n".join(map(show, lines)) + "\n"
        new_src = "\n".join(map(show, result)) + "\n"
        before, after = lint(old_src, path), lint(new_src, path)
        bad = [] if any(m.startswith("E999") for _, m in before) else new_errors(before, after)
        if bad:
            return False, refusal(name, path, lines, result, start, stop, len(new), bad)
    write_lines(path, result)
    text, st["first"] = window(path, result, centred(start, cfg), cfg)
    st["scrolls"] = 0
    text += (
        f"\nFile updated. Check the lines above: indentation, nothing duplicated or lost. "
        f"Use {name} again to fix anything wrong."
    )
    if after:
        text += "\nNote: the file still has errors it had before:\n" + "\n".join(
            f"- line {line}: {msg}" for line, msg in after[:10]
        )
    return True, text


def cmd_edit(args, st, cfg):
    if len(args) != 1 or ":" not in args[0]:
        raise ToolError(usage("edit"))
    path = open_file_state(st)
    a, b = args[0].split(":", 1)
    start, stop = parse_int(a, "start_line", "edit"), parse_int(b, "end_line", "edit")
    lines, crlf = read_lines(path)
    n = len(lines)
    if n == 0 and start == 1 and stop in (0, 1):
        stop = 0
    elif not (1 <= start <= n and start - 1 <= stop <= n):
        raise ToolError(
            f"Error: lines {start}:{stop} are out of range: {path} has {n} lines "
            f"(use 1 <= start_line <= end_line <= {n}; to append, use "
            f"`insert {n}`)."
        )
    new = read_text_input("edit")
    ok, text = apply("edit", path, lines, crlf, start, stop, new, st, cfg)
    if not ok:
        raise ToolError(text)
    return text


def cmd_insert(args, st, cfg):
    if len(args) != 1:
        raise ToolError(usage("insert"))
    path = open_file_state(st)
    line = parse_int(args[0], "line_number", "insert")
    lines, crlf = read_lines(path)
    if not 0 <= line <= len(lines):
        raise ToolError(
            f"Error: line_number {line} is out of range: {path} has {len(lines)} "
            "lines (0 inserts at the top)."
        )
    new = read_text_input("insert")
    ok, text = apply("insert", path, lines, crlf, line + 1, line, new, st, cfg)
    if not ok:
        raise ToolError(text)
    return text


def _text_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield os.path.join(dirpath, name)


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


def cmd_search_dir(args, st, cfg):
    if len(args) not in (1, 2) or not args[0]:
        raise ToolError(f"{usage('search_dir')}\nQuote a search term that has spaces.")
    term, root = args[0], args[1] if len(args) == 2 else "."
    if not os.path.isdir(root):
        raise ToolError(f"Error: directory {root} not found.")
    hits = []
    for path in _text_files(root):
        text = _read_text(path)
        if text and term in text:
            hits.append((path, sum(term in line for line in text.split("\n"))))
    if not hits:
        return f'No matches found for "{term}" in {root}.'
    if len(hits) > MAX_LISTED:
        return (
            f'More than {MAX_LISTED} files matched "{term}" in {root}. Narrow the search '
            "(a longer term, or a sub-folder)."
        )
    total = sum(k for _, k in hits)
    return "\n".join(
        [
            f'Found {total} matches for "{term}" in {root}:',
            *(f"{p} ({k} matches)" for p, k in hits),
            f'End of matches for "{term}" in {root}.',
        ]
    )


def cmd_search_file(args, st, cfg):
    if len(args) not in (1, 2) or not args[0]:
        raise ToolError(f"{usage('search_file')}\nQuote a search term that has spaces.")
    term = args[0]
    path = args[1] if len(args) == 2 else open_file_state(st)
    lines, _ = read_lines(path)
    hits = [(i, show(line)) for i, line in enumerate(lines, 1) if term in line]
    if not hits:
        return f'No matches found for "{term}" in {path}.'
    if len(hits) > MAX_LISTED:
        return f'More than {MAX_LISTED} lines matched "{term}" in {path}. Narrow the search.'
    return "\n".join(
        [
            f'Found {len(hits)} matches for "{term}" in {path}:',
            *(f"Line {i}:{line}" for i, line in hits),
            f'End of matches for "{term}" in {path}.',
        ]
    )


def cmd_find_file(args, st, cfg):
    if len(args) not in (1, 2) or not args[0]:
        raise ToolError(usage("find_file"))
    name, root = args[0], args[1] if len(args) == 2 else "."
    if not os.path.isdir(root):
        raise ToolError(f"Error: directory {root} not found.")
    hits = [p for p in _text_files(root) if fnmatch.fnmatch(os.path.basename(p), name)]
    if not hits:
        return f'No files named "{name}" found in {root}.'
    if len(hits) > MAX_LISTED:
        return f'More than {MAX_LISTED} files named "{name}" in {root}. Narrow the search.'
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
    "scroll_down": lambda a, s, c: _scroll(a, s, c, 1, "scroll_down"),
    "scroll_up": lambda a, s, c: _scroll(a, s, c, -1, "scroll_up"),
}


def main(name, argv):
    """Run one command; returns its exit status (0 ok, 1 refused, 2 usage)."""
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
