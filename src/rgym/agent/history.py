"""The conversation, and what of it the model sees.

Kept in full: the system prompt, the task, every reply of the model, and the last `keep_last`
observations; older observations become a one-line note. When the result still does not fit the
context window, fewer observations are kept in full, then the oldest steps are left out whole
(a note says how many), then the latest observation is cut; only when the system prompt and the
task alone do not fit does `ContextOverflow` end the episode. Observations longer than
`max_chars` are cut (head and tail kept) before they ever enter the history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rgym.errors import RgymError
from rgym.models.base import estimate_tokens

MESSAGE_OVERHEAD = 4
"""Tokens a chat message costs beyond its text (role, separators)."""


class ContextOverflow(RgymError):
    """Even the system prompt, the task and one cut observation do not fit the context window."""


def truncate(text: str, max_chars: int) -> str:
    """`text` with its middle replaced by a note when longer than `max_chars`."""
    if len(text) <= max_chars:
        return text
    half = max(max_chars // 2, 1)
    cut = len(text) - 2 * half
    return (
        f"{text[:half]}\n[... {cut} characters cut from the middle of this output; "
        f"narrow the command (head, tail, grep) to see them ...]\n{text[-half:]}"
    )


@dataclass
class History:
    keep_last: int = 5
    count: Callable[[str], int] = estimate_tokens
    messages: list[dict[str, Any]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    """Per message: system, task, reply or observation."""
    _cache: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.kinds.append(kind)

    def tokens(self, message: dict[str, Any]) -> int:
        text = message.get("content") or ""
        for tc in message.get("tool_calls") or ():
            text += tc["function"]["arguments"] + tc["function"]["name"]
        n = self._cache.get(text)
        if n is None:
            n = self._cache[text] = self.count(text) + MESSAGE_OVERHEAD
        return n

    def render(self, limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
        """The messages to send and their token estimate, fitted under `limit` tokens."""
        obs = [i for i, k in enumerate(self.kinds) if k == "observation"]
        replies = [i for i, k in enumerate(self.kinds) if k == "reply"]
        keep, dropped, cut = self.keep_last, 0, 0
        while True:
            msgs = self._view(
                set(obs[-keep:]) if keep > 0 else set(),
                replies[dropped] if dropped else None,
                dropped,
                cut,
            )
            total = sum(self.tokens(m) for m in msgs)
            if limit is None or total <= limit:
                return msgs, total
            if keep > 1:
                keep -= 1
            elif dropped < len(replies) - 1:
                dropped += 1
            elif obs and cut < 6:
                cut += 1
            else:
                raise ContextOverflow(
                    f"the prompt needs about {total} tokens even with the history cut down, "
                    f"over the context window's {limit}; use a model with a larger context "
                    "window (or set agent option context_window if the model's is known to be "
                    "larger)"
                )

    def _view(
        self, full: set[int], first_kept: int | None, dropped: int, cut: int
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        last_obs = max((i for i, k in enumerate(self.kinds) if k == "observation"), default=-1)
        for i, (m, kind) in enumerate(zip(self.messages, self.kinds, strict=True)):
            if first_kept is not None and kind in ("reply", "observation") and i < first_kept:
                if i == first_kept - 1:
                    out.append(
                        {
                            "role": "user",
                            "content": f"({dropped} earlier steps left out "
                            "to fit the context window.)",
                        }
                    )
                continue
            if kind == "observation" and i not in full:
                lines = (m.get("content") or "").count("\n") + 1
                m = {**m, "content": f"Old output omitted ({lines} lines)."}
            elif kind == "observation" and i == last_obs and cut:
                m = {
                    **m,
                    "content": truncate(
                        m.get("content") or "", max(len(m.get("content") or "") >> cut, 200)
                    ),
                }
            out.append(m)
        return out
