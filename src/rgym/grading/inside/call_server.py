"""Runs the agent's code in a sandbox of its own and answers a grader's calls to one function.

Standard library only. The module is imported from a read-only copy of the artefact; the grader,
its private data and the opponent are not in this sandbox. Protocol, one JSON line each way:
first {"ok": true} (or the import error), then for each {"calls": [[args], ...]} a reply
{"ok": true, "results": [...]} or {"ok": false, "error": "..."}.
"""

import importlib.util
import json
import os
import sys
import traceback


def short_tb(e: BaseException) -> str:
    lines = traceback.format_exception(type(e), e, e.__traceback__)
    return "".join(lines[-6:])[-1500:]


def plain(obj):
    """numpy scalars and arrays are fine answers; turn them into plain numbers and lists."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not plain data")


def tuples_at(value, depth, level=1):
    """Lists at exactly `depth` (an argument itself is depth 1) become tuples."""
    if isinstance(value, list):
        items = [tuples_at(v, depth, level + 1) for v in value]
        return tuple(items) if level == depth else items
    return value


def main():
    module_path, function = sys.argv[1], sys.argv[2]
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the agent's prints must not corrupt the protocol
    sys.stdout = sys.stderr

    def send(obj):
        proto.write(json.dumps(obj) + "\n")

    import random

    random.seed(0)  # the same artefact gets the same score on the same seeds
    try:
        import numpy

        numpy.random.seed(0)
    except ImportError:
        pass
    name = os.path.basename(module_path)
    sys.path.insert(0, os.path.dirname(module_path))
    try:
        spec = importlib.util.spec_from_file_location(
            name[:-3] if name.endswith(".py") else name, module_path
        )
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        fn = getattr(mod, function)
        if not callable(fn):
            raise TypeError(f"{function} is not a function")
    except AttributeError:
        send({"ok": False, "error": f"{name} defines no function {function!r}"})
        return
    except BaseException as e:
        send({"ok": False, "error": f"importing {name} failed:\n{short_tb(e)}"})
        return
    send({"ok": True})
    for line in sys.stdin:
        req = json.loads(line)
        results = []
        try:
            depth = req.get("tuples_at_depth")
            for args in req["calls"]:
                if depth:
                    args = [tuples_at(a, depth) for a in args]
                results.append(fn(*args))
            payload = json.dumps({"ok": True, "results": results}, default=plain)
        except BaseException as e:
            if isinstance(e, (TypeError, ValueError)) and len(results) == len(req["calls"]):
                payload = json.dumps(
                    {
                        "ok": False,
                        "error": f"{function} returned a value that "
                        f"is not plain data (numbers, lists, strings): {e}",
                    }
                )
            else:
                payload = json.dumps(
                    {
                        "ok": False,
                        "error": f"{function} raised on call {len(results) + 1}:\n{short_tb(e)}",
                    }
                )
        proto.write(payload + "\n")


if __name__ == "__main__":
    main()
