"""The binary framing between a grader and a model artefact's server (both sides import it).

A frame is a 4-byte big-endian header length, a JSON header (its "n" is the number of arrays that
follow), then each array as an 8-byte big-endian length and its .npy bytes. Arrays are read with
`allow_pickle=False`, and every length is checked against a cap before anything is allocated, so
a hostile peer can neither run code through a pickle nor make the reader allocate at will.
"""

import io
import json
import struct

import numpy as np

HEADER_MAX = 1 << 20


class FrameError(Exception):
    """The peer sent something that is not a well-formed frame (or too much)."""


def _exact(f, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            raise EOFError("the peer closed the channel")
        buf += chunk
    return bytes(buf)


def encode(header: dict, arrays=()) -> bytes:
    parts = []
    for a in arrays:
        b = io.BytesIO()
        np.lib.format.write_array(b, np.asarray(a), allow_pickle=False)
        parts.append(b.getvalue())
    head = json.dumps({**header, "n": len(parts)}).encode()
    return b"".join(
        [struct.pack(">I", len(head)), head, *(struct.pack(">Q", len(p)) + p for p in parts)]
    )


def write(f, header: dict, arrays=()) -> None:
    f.write(encode(header, arrays))
    if hasattr(f, "flush"):
        f.flush()


def read(f, max_bytes: int = 1 << 62) -> tuple[dict, list]:
    """One frame from the file-like `f` (blocking); at most `max_bytes` of arrays."""
    (n,) = struct.unpack(">I", _exact(f, 4))
    if n > HEADER_MAX:
        raise FrameError(f"a header of {n} bytes (at most {HEADER_MAX})")
    try:
        header = json.loads(_exact(f, n))
        count = int(header.get("n", 0))
    except (ValueError, AttributeError, TypeError):
        raise FrameError("a header that is not a JSON object") from None
    if not 0 <= count <= 64:
        raise FrameError(f"{count} arrays in one frame (at most 64)")
    arrays, total = [], 0
    for _ in range(count):
        (size,) = struct.unpack(">Q", _exact(f, 8))
        total += size
        if total > max_bytes:
            raise FrameError(f"more than {max_bytes} bytes of arrays in one reply")
        try:
            arrays.append(np.load(io.BytesIO(_exact(f, size)), allow_pickle=False))
        except (ValueError, OSError) as e:
            raise FrameError(f"an array that is not .npy data: {e}") from None
    return header, arrays
