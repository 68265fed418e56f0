"""Runs a model artefact in a sandbox of its own and answers a grader's calls with arrays.

Imported from a read-only copy of the artefact folder, which is the working directory and on
sys.path; the grader, its private data and the hidden text or environment are not in this
sandbox. Each message, both ways, is a frame (see `frames.py`): a JSON header and numpy arrays as
.npy bytes (never pickles). The first reply says whether the entry module imported; then each
request {"fn": name, "n": k} + k arrays gets {"ok": true, "n": m, "tuple": bool} + m arrays, or
{"ok": false, "error": "..."}.
"""

import importlib.util
import os
import random
import sys
import traceback

import frames
import numpy as np


def short_tb(e: BaseException) -> str:
    lines = traceback.format_exception(type(e), e, e.__traceback__)
    return "".join(lines[-6:])[-1500:]


def as_array(x, what: str) -> np.ndarray:
    """A numpy array of numbers from what the agent's function returned (torch and JAX too)."""
    if hasattr(x, "detach"):  # a torch tensor, possibly on a GPU
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what} is {type(x).__name__} of dtype {a.dtype}, not numbers")
    return a


def main() -> None:
    entry = sys.argv[1]
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # the agent's prints must not corrupt the protocol
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    random.seed(0)  # the same artefact gets the same score on the same inputs
    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:
        pass
    name = os.path.basename(entry)
    sys.path.insert(0, os.path.dirname(os.path.abspath(entry)))
    try:
        spec = importlib.util.spec_from_file_location(
            name[:-3] if name.endswith(".py") else name, entry
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"{name} is not a Python file")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    except BaseException as e:
        frames.write(out, {"ok": False, "error": f"importing {name} failed:\n{short_tb(e)}"})
        return
    frames.write(out, {"ok": True})
    while True:
        try:
            req, arrays = frames.read(inp)
        except EOFError:
            return
        fn_name = str(req.get("fn"))
        fn = getattr(mod, fn_name, None)
        if not callable(fn):
            frames.write(out, {"ok": False, "error": f"{name} defines no function {fn_name}()"})
            continue
        try:
            result = fn(*arrays)
        except BaseException as e:
            frames.write(out, {"ok": False, "error": f"{fn_name}() raised:\n{short_tb(e)}"})
            continue
        many = isinstance(result, tuple | list)
        try:
            items = list(result) if many else [result]
            outs = [as_array(x, f"{fn_name}()'s result") for x in items]
        except (TypeError, ValueError) as e:
            frames.write(
                out,
                {"ok": False, "error": f"{fn_name}() returned something that is not arrays: {e}"},
            )
            continue
        frames.write(out, {"ok": True, "tuple": many}, outs)


if __name__ == "__main__":
    main()
