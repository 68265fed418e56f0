"""Turning a model's reply into one action, or into the reason it cannot be one.

Text protocol: a short discussion, then exactly one fenced block (```) holding the command. The
block may carry a language tag (```bash). Multi-line `edit`/`insert` commands written the way the
prompt shows them (the text on the following lines, ended by `end_of_edit` / `end_of_insert`)
are rewritten into a quoted heredoc, which is how the sandbox command receives its text.

Tool-calling protocol: exactly one tool call, rendered into a command by `rgym.agent.tools`.
"""

from __future__ import annotations

import re
from typing import Any

from rgym.agent.tools import ToolArgsError, render_call
from rgym.agent.tools.specs import ToolSpec
from rgym.models.base import ModelResponse

FENCE = re.compile(r"^\s*```")
HEREDOC = re.compile(r"^(edit|insert)\s+(\S+)\s*$")
INTERACTIVE = {
    "vim",
    "vi",
    "nano",
    "emacs",
    "less",
    "more",
    "top",
    "htop",
    "man",
    "ipython",
    "jupyter",
}
ALONE = {"python", "python3", "bash", "sh", "node", "R"}


class FormatError(ValueError):
    """A reply that holds no single usable action; the message tells the model what to fix."""


def parse_text(content: str, markers: dict[str, str]) -> tuple[str, str]:
    """(thought, action) from a text-protocol reply.

    Args:
        content: the model's reply.
        markers: command name -> end marker, for the commands whose text follows on new lines.

    Raises:
        FormatError: no fenced block, more than one, or an empty or interactive command.
    """
    lines = (content or "").split("\n")
    fences = [i for i, line in enumerate(lines) if FENCE.match(line)]
    if not fences:
        raise FormatError(
            "your reply has no command block. End it with exactly one command "
            "in a fenced block (``` on the lines before and after it)."
        )
    if len(fences) % 2:
        raise FormatError(
            "your command block is not closed: put ``` on its own line after the command."
        )
    if len(fences) > 2:
        raise FormatError(
            f"your reply has {len(fences) // 2} command blocks; give exactly one "
            "command per reply and wait for its output."
        )
    open_, close = fences
    action = "\n".join(lines[open_ + 1 : close]).strip("\n")
    thought = "\n".join(lines[:open_] + lines[close + 1 :]).strip()
    return thought, check_action(heredocs(action, markers))


def heredocs(action: str, markers: dict[str, str]) -> str:
    """Rewrite `edit 3:5` + lines + `end_of_edit` into a quoted heredoc the shell passes on.

    Either end marker ends either command, and a block whose marker is missing takes all its
    remaining lines as the text: the text is never run as shell commands."""
    lines = action.split("\n")
    ends = set(markers.values())
    out, i = [], 0
    while i < len(lines):
        m = HEREDOC.match(lines[i])
        marker = markers.get(m.group(1)) if m else None
        if marker and i + 1 < len(lines):
            end = next(
                (j for j in range(i + 1, len(lines)) if lines[j].strip() in ends), len(lines)
            )
            out += [f"{m.group(1)} {m.group(2)} << '{marker}'", *lines[i + 1 : end], marker]
            i = end + 1
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def check_action(action: str) -> str:
    if not action.strip():
        raise FormatError("your command block is empty; put one command in it.")
    words = action.split()
    if words[0] in INTERACTIVE or (len(words) == 1 and words[0] in ALONE):
        raise FormatError(
            f"`{action.strip()}` is interactive, and there is no terminal to "
            "type into. Run a script or a one-line command instead (python "
            "script.py, python -c '...', sed, cat)."
        )
    return action


def parse_tool_calls(resp: ModelResponse, specs: dict[str, ToolSpec]) -> tuple[str, str]:
    """(thought, action) from a tool-calling reply: exactly one tool call.

    Raises:
        FormatError: no tool call, several, or arguments that do not fit the tool.
    """
    if not resp.tool_calls:
        raise FormatError(
            "your reply called no tool. Call exactly one tool (use `bash` for a shell command)."
        )
    if len(resp.tool_calls) > 1:
        raise FormatError(
            f"your reply called {len(resp.tool_calls)} tools; call exactly one "
            "and wait for its result."
        )
    call = resp.tool_calls[0]
    try:
        action = render_call(call.name, call.arguments, specs)
    except ToolArgsError as e:
        raise FormatError(str(e)) from None
    return (resp.content or "").strip(), check_action(action)


def assistant_message(resp: ModelResponse, tools: bool, fallback_id: str) -> dict[str, Any]:
    """The reply as it goes into the history (with its one tool call, for that protocol)."""
    if not tools:
        return {"role": "assistant", "content": resp.content}
    tc = resp.tool_calls[0]
    call = {
        "id": tc.id or fallback_id,
        "type": "function",
        "function": {"name": tc.name, "arguments": tc.arguments},
    }
    return {"role": "assistant", "content": resp.content or None, "tool_calls": [call]}


def observation_message(text: str, reply: dict[str, Any]) -> dict[str, Any]:
    """The observation as the answer to `reply`: a tool result, or a user message."""
    call_id = (reply.get("tool_calls") or [{}])[0].get("id")
    if call_id:
        return {"role": "tool", "tool_call_id": call_id, "content": text}
    return {"role": "user", "content": text}
