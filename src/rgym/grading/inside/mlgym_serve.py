"""Runs the agent's module(s) of an MLGym task in a sandbox of their own (standard library only).

This sandbox holds the agent's declared artefact module(s) and nothing else of the task: not the
evaluator, not the opponent, not the data. The evaluator's proxy module asks for names and calls
over stdin/stdout (see mlgym_call.py). What the agent's code prints goes to stderr, never into
the protocol. When the grader goes away, this process exits, whatever the agent's code is doing.

Usage: python -I mlgym_serve.py '{"strategy": "/artifact/strategy.py"}'
"""

import importlib.util
import json
import os
import select
import sys
import threading
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mlgym_call import decode, encode  # noqa: E402

del sys.path[0]
# bound now: the agent's module may replace json.dumps in this process, which would only
# garble its own answers
_dumps, _loads = json.dumps, json.loads


def short_tb(e: BaseException) -> str:
    lines = traceback.format_exception(type(e), e, e.__traceback__)
    return "".join(lines[-6:])[-2000:]


def watch(fd: int) -> None:
    """Exit as soon as the grader's end of the request pipe is closed."""
    p = select.poll()
    p.register(fd, select.POLLHUP | select.POLLERR)
    while True:
        for _, ev in p.poll():
            if ev & (select.POLLHUP | select.POLLERR):
                os._exit(0)


def main() -> None:
    files = json.loads(sys.argv[1])
    proto = os.fdopen(os.dup(1), "wb", buffering=0)
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    os.dup2(2, 1)  # the agent's prints (and its subprocesses') must not reach the protocol
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # nor may its code read the requests
    sys.stdout = sys.stderr
    threading.Thread(target=watch, args=(requests.fileno(),), daemon=True).start()
    for d in {os.path.dirname(f) for f in files.values()}:
        sys.path.insert(0, d)
    modules: dict = {}

    def send(obj) -> None:
        try:
            data = _dumps(obj, allow_nan=True)
        except (TypeError, ValueError, RecursionError) as e:
            data = _dumps({"ok": False, "error": f"the answer is not plain data: {e}"})
        proto.write(data.encode() + b"\n")

    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = requests.read(1 << 20)
            if not chunk:
                os._exit(0)
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        req = _loads(line)
        mod_name = req["module"]
        try:
            if mod_name not in modules:
                path = files[mod_name]
                spec = importlib.util.spec_from_file_location(mod_name, path)
                mod = importlib.util.module_from_spec(spec)
                sys.modules[mod_name] = mod
                try:
                    spec.loader.exec_module(mod)
                except BaseException as e:
                    del sys.modules[mod_name]
                    send(
                        {
                            "ok": False,
                            "error": f"importing {os.path.basename(path)} failed:\n{short_tb(e)}",
                        }
                    )
                    continue
                modules[mod_name] = mod
            mod = modules[mod_name]
            if req["op"] == "load":
                names = {}
                for n in req["names"]:
                    if not hasattr(mod, n):
                        raise AttributeError(
                            f"{os.path.basename(files[mod_name])} defines no {n!r} (the "
                            "evaluator imports it; keep its name)"
                        )
                    v = getattr(mod, n)
                    names[n] = (
                        {"kind": "function"}
                        if callable(v)
                        else {"kind": "value", "value": encode(v)}
                    )
                send({"ok": True, "names": names})
            else:
                fn = getattr(mod, req["name"])
                value = fn(*decode(req["args"]), **decode(req["kwargs"]))
                send({"ok": True, "value": encode(value)})
        except BaseException as e:
            if isinstance(e, AttributeError) and "defines no" in str(e):
                send({"ok": False, "error": str(e)})
            else:
                where = req.get("name") or mod_name
                send({"ok": False, "error": f"{where} raised:\n{short_tb(e)}"})


if __name__ == "__main__":
    main()
