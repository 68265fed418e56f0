"""The agent's tools, described once. The prompt's command docs, the native tool-calling schema,
the rendering of a tool call into a shell command, and each sandbox command's `--help` are all
generated from these specs.

`where` says who carries a tool out: `sandbox` (an executable on PATH inside the sandbox),
`env` (an action the env recognises: validate, submit), `host` (the agent loop itself: memory),
or `shell` (the plain `bash` tool of the tool-calling protocol).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Arg:
    name: str
    type: str
    """JSON-schema type: string or integer."""
    description: str
    required: bool = True


@dataclass(frozen=True)
class ToolSpec:
    name: str
    signature: str
    docstring: str
    args: tuple[Arg, ...] = ()
    argv: tuple[str, ...] = ()
    """How the arguments appear on the command line: format strings over the arg names; a piece
    whose args are missing is left out (optional args)."""
    text_arg: str | None = None
    """The arg that is passed as lines after the command line, ended by `end_marker`."""
    end_marker: str | None = None
    where: str = "sandbox"
    optional: bool = False
    """Only offered when switched on in the agent config (memory)."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return asdict(self)


def _a(name: str, type_: str, desc: str, required: bool = True) -> Arg:
    return Arg(name, type_, desc, required)


SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "open",
        "open <path> [<line_number>]",
        "Opens the file at path in the file viewer and shows a window of its lines, from the "
        "top or around line_number (a line past the end shows the end). Each line is shown "
        "as <number>:<text>.",
        (
            _a("path", "string", "the file to open"),
            _a("line_number", "integer", "the line to show in the window", False),
        ),
        ("{path}", "{line_number}"),
    ),
    ToolSpec(
        "goto",
        "goto <line_number>",
        "Moves the window of the open file so that it shows line_number (at most the "
        "file's last line).",
        (_a("line_number", "integer", "the line to move the window to"),),
        ("{line_number}",),
    ),
    ToolSpec(
        "scroll_down",
        "scroll_down",
        "Moves the window of the open file down by one window (less two lines of overlap).",
    ),
    ToolSpec(
        "scroll_up",
        "scroll_up",
        "Moves the window of the open file up by one window (less two lines of overlap).",
    ),
    ToolSpec(
        "create",
        "create <path>",
        "Creates a new file at path (and its folders) holding one empty line, and opens it; "
        "fill it with `edit 1:1`. An existing file is not changed; it is opened instead.",
        (_a("path", "string", "the file to create"),),
        ("{path}",),
    ),
    ToolSpec(
        "edit",
        "edit <start_line>:<end_line>\n<replacement_text>\nend_of_edit",
        "Replaces lines start_line to end_line (inclusive) of the open file with the "
        "replacement text: every line after the command line up to a line that is exactly "
        "`end_of_edit`. Indentation is kept exactly as written. To delete lines, pipe in "
        "nothing: `printf '' | edit <start_line>:<end_line>`. An end_line past the end of the "
        "file replaces up to the end, and a start_line past it appends. For a Python file "
        "the edit is checked (syntax errors, indentation that is not a multiple of four, "
        "undefined names); an edit that adds errors is not applied and you are shown why.",
        (
            _a("start_line", "integer", "first line to replace (1-based)"),
            _a("end_line", "integer", "last line to replace (inclusive)"),
            _a("replacement_text", "string", "the new lines"),
        ),
        ("{start_line}:{end_line}",),
        "replacement_text",
        "end_of_edit",
    ),
    ToolSpec(
        "insert",
        "insert <line_number>\n<text>\nend_of_insert",
        "Inserts text after line line_number of the open file (0 inserts at the top): every "
        "line after the command line up to a line that is exactly `end_of_insert`. Checked "
        "like `edit`.",
        (
            _a("line_number", "integer", "insert after this line (0 = at the top)"),
            _a("text", "string", "the lines to insert"),
        ),
        ("{line_number}",),
        "text",
        "end_of_insert",
    ),
    ToolSpec(
        "search_dir",
        "search_dir <search_term> [<dir>]",
        "Searches every non-hidden text file under dir (default: the current directory) "
        "for search_term (a grep pattern, case-sensitive) and lists the files with matches "
        "and how many lines match in each.",
        (
            _a("search_term", "string", "the text to look for"),
            _a("dir", "string", "the folder to search", False),
        ),
        ("{search_term}", "{dir}"),
    ),
    ToolSpec(
        "search_file",
        "search_file <search_term> [<path>]",
        "Searches the file at path (default: the open file) for search_term (a grep "
        "pattern, case-sensitive) and prints the matching lines with their numbers.",
        (
            _a("search_term", "string", "the text to look for"),
            _a("path", "string", "the file to search", False),
        ),
        ("{search_term}", "{path}"),
    ),
    ToolSpec(
        "find_file",
        "find_file <file_name> [<dir>]",
        "Finds files named file_name (shell wildcards such as *.py allowed) under dir "
        "(default: the current directory).",
        (
            _a("file_name", "string", "the name or pattern to find"),
            _a("dir", "string", "the folder to search", False),
        ),
        ("{file_name}", "{dir}"),
    ),
    ToolSpec(
        "validate",
        "validate",
        "Scores your current artefact on the dev split (not the test split used for the "
        "final score). Limited: the number left is shown each time.",
        where="env",
    ),
    ToolSpec(
        "submit",
        "submit",
        "Submits your current artefact for the final score on the test split and ends the "
        "episode. Use it when you cannot improve any further.",
        where="env",
    ),
    ToolSpec(
        "memory_write",
        "memory_write <text>",
        "Saves a note (a finding, what worked, what failed) to a memory that persists "
        "across episodes of this task.",
        (_a("text", "string", "the note to save"),),
        ("{text}",),
        where="host",
        optional=True,
    ),
    ToolSpec(
        "memory_read",
        "memory_read <query>",
        "Shows the notes in memory that best match the query (ranked by relevance).",
        (_a("query", "string", "what to look for"),),
        ("{query}",),
        where="host",
        optional=True,
    ),
)

BASH = ToolSpec(
    "bash",
    "bash <command>",
    "Runs a shell command in the workspace (the working directory and exported "
    "variables persist between commands). The file viewer commands above are also "
    "available as shell commands.",
    (_a("command", "string", "the command to run"),),
    where="shell",
)


def by_name(memory: bool = False) -> dict[str, ToolSpec]:
    """The tools offered: every spec, the optional ones only when switched on."""
    return {s.name: s for s in SPECS if memory or not s.optional}
