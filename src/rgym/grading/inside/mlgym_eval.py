"""Runs an MLGym task's evaluate script in the grading sandbox and reports its metrics to rgym.

Standard library only; started as `python -I mlgym_eval.py ...`, so neither the current folder
nor PYTHON* variables put anything on the import path. The evaluate script then runs with the
grading workspace first on `sys.path`, as MLGym runs it, but that workspace is rebuilt by rgym:
the task's own starter files, its data, and the agent's artefact (data files, or proxy modules
whose code runs in another sandbox). No other agent file is there to be imported.

The result channel: before the evaluator runs, this process keeps a private duplicate of its
stdout and points fd 1 at stderr, and the evaluator's `print`s are captured in memory. When it
has finished, its output is parsed as MLGym parses it and one line,
`RGYM_MLGYM_RESULT {"metrics": {...}}` (or `{"invalid": "..."}`), is written to the duplicate;
then the process ends without running exit hooks. Nothing else writes to rgym's stdout.

Usage: python -I mlgym_eval.py --mode whole|first --script evaluate.py [--problem MSG] -- ARGS
"""

import io
import json
import os
import runpy
import sys
import traceback

MARK = "RGYM_MLGYM_RESULT "
CAPTURE_LIMIT = 8 << 20


class Capture(io.TextIOBase):
    """sys.stdout for the evaluator: keeps what it prints (up to a limit)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if self.size < CAPTURE_LIMIT:
            self.parts.append(s[: CAPTURE_LIMIT - self.size])
            self.size += len(s)
        sys.stderr.write(s)  # also in the grader's log
        return len(s)

    def getvalue(self) -> str:
        return "".join(self.parts)


def parse(output: str, mode: str):
    """MLGym's parsing: CSV and Python tasks print one JSON object (the whole output); model
    and LM tasks' metrics are the first line that starts with `{`."""
    text = output.strip()
    candidates = []
    if mode == "whole":
        candidates.append(text)
        candidates += [ln.strip() for ln in reversed(text.splitlines()) if ln.strip()[:1] == "{"]
    else:
        candidates += [ln.strip() for ln in text.splitlines() if ln.strip()[:1] == "{"]
    for c in candidates:
        try:
            v = json.loads(c)
        except ValueError:
            continue
        if isinstance(v, dict):
            return v
    return None


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:500] if lines else "(no output)"


def main() -> None:
    argv = sys.argv[1:]
    args = argv[argv.index("--") + 1 :] if "--" in argv else []
    opts = argv[: argv.index("--")] if "--" in argv else argv
    o = dict(zip(opts[::2], opts[1::2], strict=False))
    mode, script = o.get("--mode", "whole"), o["--script"]

    result = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    rank = os.environ.get("RANK", "0")

    def report(payload) -> None:
        if rank == "0":
            result.write(MARK + json.dumps(payload) + "\n")
            result.flush()
        os._exit(0)

    if "--problem" in o:
        report({"invalid": o["--problem"]})

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p not in ("", here)]
    sys.path.append(here)
    import mlgym_call  # the proxies' client; imported now so nothing can shadow it later

    workspace = os.getcwd()
    sys.path.insert(0, workspace)
    sys.argv = [os.path.join(workspace, script), *args]
    cap = Capture()
    sys.stdout = cap
    error = None
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as e:
        if e.code not in (None, 0):
            error = f"exited with code {e.code}"
    except mlgym_call.ArtefactError as e:
        sys.stdout = sys.__stdout__
        report({"invalid": f"your code failed while {script} ran it: {e}"})
    except BaseException as e:
        tb = traceback.format_exception(type(e), e, e.__traceback__)
        sys.stderr.write("".join(tb))
        error = last_line(tb[-1])
    output = cap.getvalue()
    sys.stdout = sys.__stdout__
    metrics = parse(output, mode)
    if metrics is None:
        why = f"{script} failed ({error})" if error else f"{script} printed no JSON metrics"
        report({"invalid": f"{why}; the last line it printed: {last_line(output)}"})
    numbers = {
        str(k): float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    report({"metrics": numbers})


if __name__ == "__main__":
    main()
