"""Texts made safe to write as training data: bounded, valid UTF-8, finite numbers.

A run's texts come from an agent's commands and their output, so anything can be in them: a
1 GB log printed whole in an MLGym trajectory (MLGym never cut output), lone surrogates that
JSON can carry but UTF-8 cannot, NaN scores. Each text over MAX_TEXT_CHARS keeps its head and
tail around a note saying how much was cut (CUT_NOTE), and the row's metadata counts how many
were cut.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_TEXT_CHARS = 100_000
"""The longest one message, observation or action may be in an export (the agent's own cut,
`max_observation_chars`, is 10,000 by default; the env caps a command's output at 100,000)."""
SURROGATE = re.compile("[\ud800-\udfff]")
CUT_NOTE = "\n[... {n} characters cut here by rgym export ...]\n"


class Capper:
    """Cuts texts over `limit` characters and counts how many it cut."""

    def __init__(self, limit: int = MAX_TEXT_CHARS) -> None:
        self.limit, self.cut = limit, 0

    def __call__(self, text: Any) -> str:
        text = text if isinstance(text, str) else "" if text is None else str(text)
        if len(text) <= self.limit:
            return text
        self.cut += 1
        half = self.limit // 2
        return text[:half] + CUT_NOTE.format(n=len(text) - 2 * half) + text[-half:]


def clean(value: Any) -> Any:
    """`value` with lone surrogates replaced by U+FFFD and non-finite floats by None."""
    if isinstance(value, str):
        return SURROGATE.sub("\ufffd", value) if SURROGATE.search(value) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value
