"""A task's deep-learning stack: checked before an episode starts, listed in its prompt.

Training tasks need libraries rgym itself does not (PyTorch, JAX). They come with an extra
(`rgym[vision]`, `rgym[language]`, `rgym[rl]`), and an episode whose stack is missing is refused
at once with the command that installs it, instead of failing minutes later inside the sandbox.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from functools import cache

from rgym.errors import RgymError
from rgym.tasks.spec import TaskSpec

COMMON = ("numpy", "pandas", "scipy", "sklearn", "matplotlib")
"""Libraries listed in every training task's prompt when they are installed."""
DISTRIBUTION = {"sklearn": "scikit-learn", "PIL": "pillow"}


class StackMissing(RgymError):
    """A task's libraries are not installed where rgym runs (and so not in its sandboxes)."""


def missing(spec: TaskSpec) -> list[str]:
    if spec.stack is None:
        return []
    return [m for m in spec.stack.modules if importlib.util.find_spec(m) is None]


def check(spec: TaskSpec) -> None:
    """Raise StackMissing, naming the extra to install, when the task's stack is incomplete."""
    gone = missing(spec)
    if gone:
        extra = spec.stack.extra
        raise StackMissing(
            f"task {spec.id!r} needs {', '.join(gone)}, which "
            f"{'is' if len(gone) == 1 else 'are'} not installed in this Python "
            f"(the sandbox uses the same one). Install the {extra!r} extra: "
            f"pip install 'rgym[{extra}]' (from a checkout: ./install.sh --extras {extra})."
        )


@cache
def _version(module: str) -> str | None:
    try:
        return importlib.metadata.version(DISTRIBUTION.get(module, module))
    except importlib.metadata.PackageNotFoundError:
        return None


def libraries(spec: TaskSpec) -> list[str]:
    """`name version` of the stack's libraries and the common ones that are installed."""
    if spec.stack is None:
        return []
    names = [*spec.stack.modules, *(m for m in COMMON if m not in spec.stack.modules)]
    out = []
    for m in names:
        v = _version(m)
        if v is not None:
            out.append(f"{DISTRIBUTION.get(m, m)} {v}")
    return out
