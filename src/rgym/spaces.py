"""Text spaces for rgym's observations and actions: any `str`, not only alphanumerics.

Gymnasium's `Text` holds an explicit charset (alphanumerics by default) and a table entry per
character, so a prompt, a command with a space in it or a traceback is outside it, and a charset
of all of Unicode would cost a million-entry table. `AnyText` is a `Text` whose charset is every
Unicode code point without a table: a character's index is its code point. Gymnasium's own
`flatten`, `unflatten` and the vector envs' shared memory then encode a string as its code points
in an int32 array, padded with `len(character_set)` (0x110000), exactly as they do for any `Text`;
this module registers vectorised versions of `flatten` and `unflatten` for `AnyText` that give
the same arrays, only faster, and a `read_from_shared_memory` that returns a live view
(`SharedTexts`), which `AsyncVectorEnv` needs to see more than the empty buffer.

`ActionText` is the action space: any `str`, but `sample()` picks one of a few harmless,
read-only commands, because a sampled action is run as a shell command.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Iterator, Sequence, Set
from typing import Any

import numpy as np
from gymnasium.spaces import Space, Text
from gymnasium.spaces.utils import flatten, unflatten
from gymnasium.vector.utils import read_from_shared_memory

PAD = sys.maxunicode + 1
"""The flattened padding value: one past the last code point, as `Text` pads with len(charset)."""

SAMPLE_CHARS = string.ascii_letters + string.digits + string.punctuation + " \n"
"""What `AnyText.sample()` draws from: printable ASCII, space and newline."""

SAMPLE_MAX_LENGTH = 32

HARMLESS_COMMANDS: tuple[str, ...] = ("ls", "pwd", "ls data", "head -n 20 *.py")
"""What `ActionText.sample()` returns by default: read-only commands whose output is the same
after every reset (no timestamps), never `validate` (it spends the validation budget) or `submit`
(it ends the episode)."""


class CodePoints(Set):
    """Every one-character `str` (code points 0 to 0x10FFFF), as a set that stores nothing."""

    __slots__ = ()

    def __contains__(self, char: object) -> bool:
        return isinstance(char, str) and len(char) == 1

    def __len__(self) -> int:
        return PAD

    def __iter__(self) -> Iterator[str]:
        return map(chr, range(PAD))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CodePoints):
            return True
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(CodePoints)

    def __repr__(self) -> str:
        return "CodePoints()"


class CodePointList(Sequence):
    """Every one-character `str`, indexed by code point: `CodePointList()[65] == "A"`."""

    __slots__ = ()

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return tuple(map(chr, range(PAD)[index]))
        return chr(range(PAD)[int(index)])

    def __len__(self) -> int:
        return PAD


class AnyText(Text):
    """Any `str` of `min_length` to `max_length` characters; every code point is allowed.

    `sample()` gives a short random string of printable ASCII (up to 32 characters, within the
    length bounds); masks are not supported (a mask over 1,114,112 characters is no use).

    Example:
        >>> space = AnyText(100)
        >>> "ls -la | grep 'é' → ✓\\n" in space, "x" * 101 in space, b"ls" in space
        (True, False, False)
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        if not 0 <= min_length <= max_length:
            raise ValueError(f"need 0 <= min_length <= max_length, got {min_length}, {max_length}")
        self.min_length = int(min_length)
        self.max_length = int(max_length)
        Space.__init__(self, dtype=str, seed=seed)  # Text.__init__ would build a charset table

    @property
    def character_set(self) -> CodePoints:  # type: ignore[override]
        return CodePoints()

    @property
    def character_list(self) -> CodePointList:  # type: ignore[override]
        return CodePointList()

    def character_index(self, char: str) -> np.int32:
        return np.int32(ord(char))

    @property
    def characters(self) -> str:
        return "".join(CodePoints())

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def sample(self, mask: None = None, probability: None = None) -> str:
        if mask is not None or probability is not None:
            raise ValueError(f"{type(self).__name__}.sample() takes no mask or probability")
        hi = max(self.min_length, min(self.max_length, SAMPLE_MAX_LENGTH))
        length = int(self.np_random.integers(self.min_length, hi + 1))
        idx = self.np_random.integers(len(SAMPLE_CHARS), size=length)
        return "".join(SAMPLE_CHARS[i] for i in idx)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.min_length}, {self.max_length})"


class ActionText(AnyText):
    """An action: any `str` (a shell command, `validate` or `submit`).

    `sample()` returns one of `commands` (default `HARMLESS_COMMANDS`), chosen by the space's own
    generator, so it is reproducible after `action_space.seed(n)`.

    Example:
        >>> space = ActionText(1000, seed=0)
        >>> space.sample() in HARMLESS_COMMANDS, "python train.py --lr 3e-4" in space
        (True, True)
    """

    def __init__(
        self,
        max_length: int,
        *,
        commands: Sequence[str] = HARMLESS_COMMANDS,
        min_length: int = 0,
        seed: Any = None,
    ) -> None:
        super().__init__(max_length, min_length=min_length, seed=seed)
        self.commands = tuple(commands)
        if not self.commands or not all(c in self for c in self.commands):
            raise ValueError(f"commands must be non-empty strs within the space: {commands!r}")

    def sample(self, mask: None = None, probability: None = None) -> str:
        if mask is not None or probability is not None:
            raise ValueError(f"{type(self).__name__}.sample() takes no mask or probability")
        return self.commands[int(self.np_random.integers(len(self.commands)))]

    def __repr__(self) -> str:
        return f"ActionText({self.min_length}, {self.max_length}, commands={self.commands!r})"


# Vectorised versions of gymnasium's Text functions for AnyText: the same arrays, no Python
# loop over max_length (a million characters) per observation.


@flatten.register(AnyText)
def _flatten_any_text(space: AnyText, x: str) -> np.ndarray:
    if len(x) > space.max_length:
        raise ValueError(f"a str of {len(x)} characters is longer than {space}")
    arr = np.full(space.max_length, PAD, dtype=np.int32)
    arr[: len(x)] = np.frombuffer(x.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    return arr


@unflatten.register(AnyText)
def _unflatten_any_text(space: AnyText, x: np.ndarray) -> str:
    codes = np.asarray(x)
    codes = codes[codes < PAD].astype("<u4")
    return codes.tobytes().decode("utf-32-le", "surrogatepass")


class SharedTexts(Sequence):
    """The observations of n envs in an `AsyncVectorEnv`'s shared memory, decoded on access.

    `AsyncVectorEnv` reads its shared memory once, when it is built, and relies on the result
    being a view that the workers' later writes show through: true of numpy arrays, but a tuple
    of `str` (what gymnasium reads for `Text`) stays the empty buffer forever. This is that view
    for text. `deepcopy` (what `AsyncVectorEnv` returns with `copy=True`, the default) and
    pickling give a plain tuple of `str`, as `SyncVectorEnv` returns.
    """

    def __init__(self, space: AnyText, shared_memory: Any, n: int) -> None:
        self.space, self._memory = space, shared_memory
        self._rows = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape(
            (n, space.max_length)
        )

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return tuple(self[i] for i in range(len(self))[index])
        return _unflatten_any_text(self.space, self._rows[index])

    def __len__(self) -> int:
        return len(self._rows)

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, SharedTexts) else other)

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict) -> tuple[str, ...]:
        return tuple(self)

    def __reduce__(self):
        return tuple, (tuple(self),)

    def __repr__(self) -> str:
        return f"SharedTexts({tuple(s[:40] for s in self)!r})"


@read_from_shared_memory.register(AnyText)
def _read_any_text(space: AnyText, shared_memory: Any, n: int = 1) -> SharedTexts:
    return SharedTexts(space, shared_memory, n)
