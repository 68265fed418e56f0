"""Calls into the agent's module, which runs in a sandbox of its own (standard library only).

Used on both sides of the pipe between an MLGym evaluator and the agent's code:

- in the grading sandbox, rgym writes a proxy module in place of the agent's (`strategy.py`):
  it calls `attach("strategy", ["row_strategy"])`, and every call of `row_strategy(history)`
  becomes one request to `mlgym_serve.py`, which holds the real module;
- `encode`/`decode` carry arguments and results as JSON that keeps tuples, sets and dicts with
  any keys apart. Decoding builds only plain containers and scalars, never objects: whatever the
  agent's code returns, the evaluator gets data.

Protocol, one JSON line each way: {"op": "load", "module": m, "names": [...]} -> {"ok": true,
"names": {name: {"kind": "function"} | {"kind": "value", "value": v}}}; {"op": "call", "module":
m, "name": n, "args": [...], "kwargs": {...}} -> {"ok": true, "value": v} or {"ok": false,
"error": "..."}.
"""

from __future__ import annotations

import json
import os
import select
import time

MAX_LINE = 64 << 20
"""Bytes of one reply the grader reads at most."""
MAX_DEPTH = 100


class ArtefactError(Exception):
    """The agent's code failed (import error, exception, bad value, too slow): the evaluation
    cannot go on, and the message says why (the grader reports it as an invalid artefact)."""


def encode(v, depth: int = 0):
    if depth > MAX_DEPTH:
        raise ValueError("a value nested more than 100 levels deep")
    t = type(v)
    if v is None or t in (bool, int, float, str):
        return v
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, list):
        return [encode(x, depth + 1) for x in v]
    if isinstance(v, tuple):
        return {"t": [encode(x, depth + 1) for x in v]}
    if isinstance(v, dict):
        return {"d": [[encode(k, depth + 1), encode(x, depth + 1)] for k, x in v.items()]}
    if isinstance(v, set | frozenset):
        return {"s": [encode(x, depth + 1) for x in v]}
    if hasattr(v, "tolist"):  # numpy scalars and arrays
        return encode(v.tolist(), depth + 1)
    raise TypeError(f"{t.__name__} is not plain data (numbers, strings, lists, tuples, dicts)")


def decode(v, depth: int = 0):
    if depth > MAX_DEPTH:
        raise ValueError("a value nested more than 100 levels deep")
    if isinstance(v, list):
        return [decode(x, depth + 1) for x in v]
    if isinstance(v, dict):
        if set(v) == {"t"} and isinstance(v["t"], list):
            return tuple(decode(x, depth + 1) for x in v["t"])
        if set(v) == {"s"} and isinstance(v["s"], list):
            return {decode(x, depth + 1) for x in v["s"]}
        if set(v) == {"d"} and isinstance(v["d"], list):
            out = {}
            for pair in v["d"]:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise ValueError("a malformed dict")
                out[decode(pair[0], depth + 1)] = decode(pair[1], depth + 1)
            return out
        raise ValueError("a malformed value")
    if v is None or type(v) in (bool, int, float, str):
        return v
    raise ValueError("a malformed value")


class Connection:
    """The grader's end of the pipes to the agent's module."""

    def __init__(self, read_fd: int, write_fd: int, timeout: float):
        self.r = read_fd
        self.w = write_fd
        self.timeout = timeout
        self.buf = b""

    def ask(self, req: dict) -> dict:
        data = (json.dumps(req, allow_nan=True) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.w, data) :]
        except OSError:
            raise ArtefactError("the process running your code exited") from None
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ArtefactError(
                    f"your code did not answer within {self.timeout:g} s (too slow, or stuck)"
                )
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise ArtefactError(
                    "the process running your code exited (it may have called exit(), "
                    "crashed, or run out of memory)"
                )
            self.buf += chunk
            if len(self.buf) > MAX_LINE:
                raise ArtefactError("your code returned more than 64 MB in one answer")
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except (ValueError, RecursionError):
            raise ArtefactError("a malformed answer from the process running your code") from None
        if not isinstance(reply, dict):
            raise ArtefactError("a malformed answer from the process running your code")
        if not reply.get("ok"):
            raise ArtefactError(str(reply.get("error") or "your code failed")[:4000])
        return reply


_conn: Connection | None = None


def connection() -> Connection:
    global _conn
    if _conn is None:
        fds = os.environ.get("RGYM_MLGYM_CALL_FDS", "")
        if not fds:
            raise ArtefactError("rgym: no process runs the agent's code (RGYM_MLGYM_CALL_FDS)")
        r, w = (int(x) for x in fds.split(","))
        timeout = float(os.environ.get("RGYM_MLGYM_CALL_TIMEOUT", "300"))
        _conn = Connection(r, w, timeout)
    return _conn


class RemoteFunction:
    def __init__(self, module: str, name: str):
        self.module = module
        self.name = name
        self.__name__ = name
        self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        try:
            payload = {"args": encode(list(args)), "kwargs": encode(kwargs)}
        except (TypeError, ValueError) as e:
            raise ArtefactError(f"rgym cannot pass these arguments to {self.name}: {e}") from None
        reply = connection().ask(
            {"op": "call", "module": self.module, "name": self.name, **payload}
        )
        try:
            return decode(reply.get("value"))
        except (ValueError, TypeError, RecursionError) as e:
            raise ArtefactError(f"{self.name} returned a value rgym cannot read: {e}") from None

    def __repr__(self) -> str:
        return f"<function {self.name} of the agent's {self.module} (runs in its own sandbox)>"


def attach(module: str, names: list[str]) -> dict:
    """The attributes of a proxy module: a RemoteFunction per function the agent's module
    defines under `names`, and the (decoded) value of any other name."""
    reply = connection().ask({"op": "load", "module": module, "names": list(names)})
    out = {}
    described = reply.get("names")
    if not isinstance(described, dict):
        raise ArtefactError("a malformed answer from the process running your code")
    for name in names:
        d = described.get(name)
        if not isinstance(d, dict):
            raise ArtefactError(f"{module} defines no {name}")
        if d.get("kind") == "function":
            out[name] = RemoteFunction(module, name)
        else:
            try:
                out[name] = decode(d.get("value"))
            except (ValueError, TypeError, RecursionError) as e:
                raise ArtefactError(f"{module}.{name} is a value rgym cannot read: {e}") from None
    return out
