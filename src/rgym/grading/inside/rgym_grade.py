"""The helpers every rgym grader imports (`import rgym_grade`) inside its grading sandbox.

Standard library plus whatever the grader itself needs; rgym is not installed there. A grader
prints exactly one result line, `RGYM_RESULT {json}`, through `emit` or `invalid`:

    {"metrics": {"accuracy": 0.81, ...}}   the artefact was scored
    {"invalid": "what is wrong, said so the agent can fix it"}

For code artefacts the agent's function runs in another sandbox; `remote_function()` returns a
client that asks it for outputs over two pipes (fds in RGYM_CALL_FDS). The grader owns the loop.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time
from pathlib import Path


class Invalid(Exception):
    """The artefact cannot be scored; the message is shown to the agent."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--split", choices=["dev", "test"], required=True)
    p.add_argument("--artifact", type=Path, required=True)
    p.add_argument("--private", type=Path, required=True)
    p.add_argument("--public", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--options", type=json.loads, default={})
    return p.parse_args(argv)


def _result(payload: dict) -> None:
    sys.stdout.write("RGYM_RESULT " + json.dumps(payload) + "\n")
    sys.stdout.flush()


def emit(metrics: dict) -> None:
    _result({"metrics": {k: float(v) for k, v in metrics.items()}})


def invalid(message: str) -> None:
    _result({"invalid": message})


def run(main) -> None:
    """Call `main(args)`; an `Invalid` it raises becomes an invalid-artefact result."""
    args = parse_args()
    try:
        emit(main(args))
    except Invalid as e:
        invalid(str(e))


def read_csv(path: Path, columns: list[str], n_rows: int | None = None):
    """Read a submission CSV and check its shape, raising Invalid with a message that helps."""
    import pandas as pd

    name = path.name
    try:
        df = pd.read_csv(path)
    except Exception as e:  # pandas raises many types for bad files
        raise Invalid(f"{name} could not be read as CSV: {str(e).splitlines()[0]}") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise Invalid(
            f"{name} is missing column(s) {missing}; it has {_names(df.columns)}; "
            f"expected columns {columns}"
        )
    if n_rows is not None and len(df) != n_rows:
        raise Invalid(f"{name} has {len(df)} rows; expected {n_rows} (one per test example)")
    return df


def whole_numbers(column, what: str, name: str = "submission.csv"):
    """A CSV column's values as floats that are whole numbers, or Invalid naming the first that
    is not (floats, so that a huge number fails a range check rather than wrapping round)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):  # pandas reads a column of True/False as bools
        raise Invalid(f"{name}: every {what} must be a whole number, not True/False")
    values = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values) | (np.mod(values, 1) != 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise Invalid(
            f"{name}: every {what} must be a whole number; {int(bad.sum())} are not "
            f"(e.g. data row {row + 1}: {str(column.iloc[row])[:40]!r})"
        )
    return values


def class_by_id(path: Path, n: int, classes: int, items: str):
    """A `id,label` predictions CSV as an array of n class numbers indexed by id.

    Every id 0..n-1 must appear once with a class 0..classes-1. The checks cover every row, dev
    and test mixed, before a split is scored, so no message tells which ids are dev. `items`
    says what the ids are, for messages ("the images of data/test_images.npy")."""
    import numpy as np

    sub = read_csv(path, ["id", "label"])
    name = path.name
    ids, labels = whole_numbers(sub["id"], "id", name), whole_numbers(sub["label"], "label", name)
    outside = (ids < 0) | (ids >= n)
    if outside.any():
        raise Invalid(
            f"{name} has id {ids[outside][0]:.0f}, which is not one of the {items}: ids "
            f"are rows, 0 to {n - 1}"
        )
    ids = ids.astype(np.int64)
    count = np.bincount(ids, minlength=n)
    if (count > 1).any():
        raise Invalid(f"{name} lists id {int(np.argmax(count > 1))} more than once")
    if (count == 0).any():
        raise Invalid(
            f"{name} has no row for {int((count == 0).sum())} of the {n} {items} "
            f"(e.g. id {int(np.argmax(count == 0))}); predict every one"
        )
    wrong = (labels < 0) | (labels >= classes)
    if wrong.any():
        raise Invalid(
            f"every label must be a class number from 0 to {classes - 1}; {int(wrong.sum())} "
            f"are not (e.g. id {ids[wrong][0]}: {labels[wrong][0]:.0f})"
        )
    pred = np.empty(n, np.int64)
    pred[ids] = labels.astype(np.int64)
    return pred


def _names(columns, most: int = 10, width: int = 40) -> str:
    """Column names for a message, each cut short: a header is the agent's text, any size."""
    names = [str(c) if len(str(c)) <= width else str(c)[:width] + "…" for c in columns[:most]]
    more = f" and {len(columns) - most} more" if len(columns) > most else ""
    return f"{names}{more}"


class RemoteError(Invalid):
    pass


class RemoteFunction:
    """Calls the agent's function in its own sandbox; every failure becomes Invalid."""

    def __init__(self, read_fd: int, write_fd: int, name: str):
        self.r = os.fdopen(read_fd, "rb", buffering=0)
        self.w = os.fdopen(write_fd, "wb", buffering=0)
        self.name = name
        self._buf = b""
        hello = self._recv(timeout=60)
        if not hello.get("ok"):
            raise RemoteError(hello.get("error", "the artefact could not be loaded"))

    def _recv(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RemoteError(
                    f"{self.name} did not answer within {timeout:g} s "
                    "(too slow, or stuck in a loop)"
                )
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r.fileno(), 1 << 20)
                if not chunk:
                    raise RemoteError(
                        f"the process running {self.name} exited (it may have "
                        "called exit(), crashed, or run out of memory)"
                    )
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def map(
        self,
        args_list: list[list],
        timeout_per_call: float = 1.0,
        *,
        overhead: float = 5.0,
        tuples_at_depth: int | None = None,
    ) -> list:
        """Call the function once per argument list; results come back in order.

        Arguments and results travel as JSON: tuples arrive as lists and integer dict keys as
        strings. `tuples_at_depth=2` turns the lists nested one level inside each argument back
        into tuples (a game history of (row, column) pairs). The whole batch may take
        `overhead + timeout_per_call * len(args_list)` seconds.
        """
        req = {"calls": args_list}
        if tuples_at_depth is not None:
            req["tuples_at_depth"] = tuples_at_depth
        self.w.write((json.dumps(req) + "\n").encode())
        reply = self._recv(timeout=overhead + timeout_per_call * len(args_list))
        if not reply.get("ok"):
            raise RemoteError(reply.get("error", f"{self.name} failed"))
        return reply["results"]

    def __call__(self, *args, timeout: float = 5.0, tuples_at_depth: int | None = None):
        return self.map(
            [list(args)], timeout_per_call=timeout, overhead=0.0, tuples_at_depth=tuples_at_depth
        )[0]


def remote_function(name: str) -> RemoteFunction:
    fds = os.environ.get("RGYM_CALL_FDS")
    if not fds:
        raise RuntimeError("no artefact process connected (RGYM_CALL_FDS unset)")
    r, w = (int(x) for x in fds.split(","))
    return RemoteFunction(r, w, name)


class _Deadline:
    """A file-like reader of an fd that gives up at a deadline (a model that never answers)."""

    def __init__(self, fd: int, deadline: float, what: str):
        self.fd, self.deadline, self.what = fd, deadline, what

    def read(self, n: int) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0 or not select.select([self.fd], [], [], left)[0]:
            raise RemoteError(f"{self.what} did not answer in time (too slow, or stuck)")
        chunk = os.read(self.fd, min(n, 1 << 24))
        if not chunk:
            raise RemoteError(
                f"the process running {self.what} exited (it may have called exit(), "
                "crashed, or run out of memory)"
            )
        return chunk


class RemoteModel:
    """Calls a model artefact's functions in its own sandbox with numpy arrays, over a binary
    transport (`frames`); every failure on the artefact's side becomes Invalid (RemoteError)."""

    def __init__(self, read_fd: int, write_fd: int, name: str, load_timeout: float = 120.0):
        self.r, self.w, self.name = read_fd, write_fd, name
        self.seconds = 0.0
        """Time spent waiting for the artefact (transport included), for a grader's report."""
        hello, _ = self._recv(load_timeout, 1 << 20, "loading the model")
        if not hello.get("ok"):
            raise RemoteError(_short(hello.get("error", f"{name} could not be loaded")))

    def _recv(self, timeout: float, max_bytes: int, what: str):
        import frames

        reader = _Deadline(self.r, time.monotonic() + timeout, f"{self.name} ({what})")
        try:
            return frames.read(reader, max_bytes)
        except frames.FrameError as e:
            raise RemoteError(f"{self.name} sent a malformed reply: {e}") from None
        except EOFError:
            raise RemoteError(f"the process running {self.name} exited") from None

    def call(self, fn: str, *arrays, timeout: float = 60.0, max_bytes: int = 1 << 30):
        """fn(*arrays) in the artefact's sandbox: one array back, or a tuple when fn returns
        a tuple or list. Raises RemoteError (an Invalid) when it raises, returns something that
        is not arrays, answers after `timeout` seconds, or sends more than `max_bytes`."""
        import frames

        start = time.monotonic()
        deadline = start + timeout
        view = memoryview(frames.encode({"fn": fn}, arrays))
        os.set_blocking(self.w, False)  # a model that stops reading must not block the grader
        try:
            while view:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [self.w], [], left)[1]:
                    raise RemoteError(f"{self.name} stopped reading its input ({fn}())")
                try:
                    view = view[os.write(self.w, view) :]
                except BlockingIOError:
                    continue
        except (BrokenPipeError, ConnectionError):
            raise RemoteError(f"the process running {self.name} exited") from None
        left = max(0.001, deadline - time.monotonic())
        header, outs = self._recv(left, max_bytes, f"{fn}()")
        self.seconds += time.monotonic() - start
        if not header.get("ok"):
            raise RemoteError(_short(str(header.get("error", f"{fn}() failed"))))
        return tuple(outs) if header.get("tuple") else outs[0] if outs else None


def _short(text: str, n: int = 1500) -> str:
    return text if len(text) <= n else text[: n - 15] + " …(truncated)"


def remote_model(
    name: str = "the model", load_timeout: float = 120.0, instance: int = 0
) -> RemoteModel:
    """The model artefact's server, started by rgym in the artefact's own sandbox; with
    `artifact.instances` > 1, `instance` picks one of the separate processes."""
    fds = os.environ.get("RGYM_CALL_FDS")
    if not fds:
        raise RuntimeError("no artefact process connected (RGYM_CALL_FDS unset)")
    pairs = fds.split(";")
    if not 0 <= instance < len(pairs):
        raise RuntimeError(f"no artefact instance {instance}: rgym started {len(pairs)}")
    r, w = (int(x) for x in pairs[instance].split(","))
    return RemoteModel(r, w, name, load_timeout)
