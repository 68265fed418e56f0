"""The agent-computer interface: the tool specs turned into prompt docs, a tool-calling schema,
shell commands, and a folder of executables the sandbox puts on PATH.

How the tools reach the sandbox: `tools_dir()` builds a folder (content-addressed under
`$RGYM_CACHE/aci/`) holding `_aci.py`, `_specs.json`, `_config.json` and one small executable per
sandbox command; pass it to `ResearchEnv(tool_dirs=[...])` (the agent exposes it as
`agent.tool_dirs`). When an env was made without it, `install()` unpacks the same folder into the
running sandbox (under its private state dir) and puts it first on PATH.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import py_compile
import shlex
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from rgym.agent.tools.specs import BASH, SPECS, Arg, ToolSpec, by_name

MLGYM_WINDOW = 1000
"""MLGym's file-viewer window (lines shown at a time); the tools' default."""
ACI_SOURCE = Path(__file__).with_name("aci.py")
STUB = """#!/bin/sh
# rgym agent tool {name}: see `{name} --help`. python3 -S: the standard library is enough.
RGYM_ACI_DIR="${{0%/*}}" exec python3 -S -c '
import os, sys
sys.path.insert(0, os.environ["RGYM_ACI_DIR"])
import _aci
sys.exit(_aci.main("{name}", sys.argv[1:]))' "$@"
"""
STATE_PROBE = (
    'printf "%s\\n" "$PWD"; '
    'cat "${RGYM_ACI_STATE:-${RGYM_STATE_DIR:-/tmp/.rgym}/aci.json}" 2>/dev/null'
)
"""A shell command printing the cwd and the viewer's state (the footer's open file and cwd)."""


class ToolArgsError(ValueError):
    """A tool call whose arguments do not fit the tool's spec."""


def _files(window: int) -> dict[str, str]:
    files = {
        "_aci.py": ACI_SOURCE.read_text(),
        "_specs.json": json.dumps({s.name: s.as_dict() for s in SPECS}, indent=1),
        "_config.json": json.dumps({"window": window, "overlap": 2}),
    }
    for s in SPECS:
        if s.where == "sandbox":
            files[s.name] = STUB.format(name=s.name)
    return files


def tools_dir(window: int = MLGYM_WINDOW, root: Path | None = None) -> Path:
    """The folder of sandbox commands for this window size (built once, then reused)."""
    from rgym.tasks.data import cache_root

    files = _files(window)
    key = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    final = Path(root or cache_root() / "aci") / key
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    for name, text in files.items():
        (tmp / name).write_text(text)
        (tmp / name).chmod(0o755)
    py_compile.compile(str(tmp / "_aci.py"), doraise=True)  # the sandbox's /tmp-less python
    for p in [tmp, *tmp.rglob("*")]:
        p.chmod(0o755)
    try:
        tmp.rename(final)
    except OSError:  # another process built it first
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def install(env, directory: Path) -> bool:
    """Make the tools available in `env`'s running sandbox when it was not started with them.
    Returns True when it had to install them."""
    if any(Path(d).resolve() == directory.resolve() for d in getattr(env, "tool_dirs", [])):
        return False
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(directory, arcname=".")
    blob = base64.b64encode(buf.getvalue()).decode()
    dest = '"${RGYM_STATE_DIR:-/tmp/.rgym}/aci-tools"'
    res = env.sandbox.exec(
        f"mkdir -p {dest} && echo {blob} | base64 -d | tar -xzf - -C {dest} "
        f'&& export PATH={dest}:"$PATH"',
        timeout=60,
    )
    if res.exit_code != 0:
        from rgym.errors import SandboxUnavailable

        raise SandboxUnavailable(f"could not install the agent's tools: {res.output[-500:]}")
    return True


# --- docs and schema from the specs ------------------------------------------------------------


def command_docs(specs: dict[str, ToolSpec]) -> str:
    """The COMMANDS section of the system prompt."""
    out = []
    for s in specs.values():
        out.append(
            f"{s.name}:\n  docstring: {s.docstring}\n  signature: "
            + s.signature.replace("\n", "\n    ")
        )
        if s.args:
            out.append("  arguments:")
            out += [
                f"    - {a.name} ({a.type}) [{'required' if a.required else 'optional'}]: "
                f"{a.description}"
                for a in s.args
            ]
    return "\n".join(out)


def _schema(s: ToolSpec) -> dict[str, Any]:
    props = {a.name: {"type": a.type, "description": a.description} for a in s.args}
    return {
        "type": "function",
        "function": {
            "name": s.name,
            "description": s.docstring,
            "parameters": {
                "type": "object",
                "properties": props,
                "required": [a.name for a in s.args if a.required],
            },
        },
    }


def openai_tools(specs: dict[str, ToolSpec]) -> list[dict[str, Any]]:
    """The OpenAI `tools` list: every spec, plus `bash` for plain shell commands."""
    return [_schema(s) for s in (*specs.values(), BASH)]


def _value(arg: Arg, raw: Any) -> str:
    if arg.type == "integer":
        try:
            return str(int(raw))
        except (TypeError, ValueError):
            raise ToolArgsError(f"argument {arg.name!r} must be an integer, not {raw!r}") from None
    return str(raw)


def render_call(name: str, arguments: str | dict, specs: dict[str, ToolSpec]) -> str:
    """A tool call as the shell command (or env action) it stands for.

    Raises:
        ToolArgsError: unknown tool, arguments that are not a JSON object, a missing required
            argument or a wrong type; the message is shown to the model.
    """
    spec = BASH if name == BASH.name else specs.get(name)
    if spec is None:
        raise ToolArgsError(
            f"unknown tool {name!r}; the tools are: {', '.join([*specs, BASH.name])}"
        )
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except json.JSONDecodeError as e:
            raise ToolArgsError(f"the arguments of {name} are not valid JSON: {e}") from None
    if not isinstance(arguments, dict):
        raise ToolArgsError(f"the arguments of {name} must be a JSON object")
    args = {a.name: a for a in spec.args}
    for a in spec.args:
        if a.required and arguments.get(a.name) is None:
            raise ToolArgsError(f"{name} needs the argument {a.name!r} ({a.description})")
    if spec is BASH:
        return str(arguments["command"])
    values = {k: _value(args[k], v) for k, v in arguments.items() if k in args and v is not None}
    parts = [spec.name]
    for piece in spec.argv:
        needed = [a.name for a in spec.args if "{" + a.name + "}" in piece]
        if all(n in values for n in needed):
            quoted = {
                n: values[n] if args[n].type == "integer" else shlex.quote(values[n])
                for n in needed
            }
            parts.append(piece.format(**quoted))
    command = " ".join(parts)
    if spec.text_arg:
        # An empty text stays an empty heredoc, which edit refuses (saying how to delete):
        # text_command's pipe would delete, but this form is what the agent's tests pin down.
        text = values.get(spec.text_arg, "").rstrip("\n")
        body = f"{text}\n" if text else ""
        command += f" << '{spec.end_marker}'\n{body}{spec.end_marker}"
    return command


def text_command(head: str, lines: list[str], marker: str) -> str:
    """A command that reads `lines` on stdin (`edit 3:5` and its replacement text): a quoted
    heredoc ended by `marker`; no lines at all are piped in empty (`printf '' | edit 3:5`),
    since bash hands an empty heredoc over as /dev/null, which the tools read as "no text
    given" and refuse rather than delete."""
    if not lines:
        return f"printf '' | {head}"
    body = "".join(f"{line}\n" for line in lines)
    return f"{head} << '{marker}'\n{body}{marker}"


__all__ = [
    "MLGYM_WINDOW",
    "SPECS",
    "STATE_PROBE",
    "ToolArgsError",
    "ToolSpec",
    "by_name",
    "command_docs",
    "install",
    "openai_tools",
    "render_call",
    "text_command",
    "tools_dir",
]
