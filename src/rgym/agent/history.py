"""The conversation, and what of it the model sees.

Kept in full: the system prompt, the task, every reply of the model, and the last `keep_last`
observations; older observations become a one-line note. When the result still does not fit the
context window, fewer observations are kept in full, then the oldest steps are left out whole
(a note says how many), then the latest observation is cut; only when the system prompt and the
task alone do not fit does `ContextOverflow` end the episode. Observations longer than
`max_chars` are cut (head and tail kept) before they ever enter the history.

How a render was fitted is a `Fit` (three numbers), so a record that keeps the history's
messages and the fit of each request can show that request again exactly (`History.view`).
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


@dataclass(frozen=True)
class Fit:
    """How a render was fitted under the context window."""

    keep: int
    """Observations kept in full (the latest ones)."""
    dropped: int = 0
    """Oldest steps (reply and observation) left out whole, with a note saying how many."""
    cut: int = 0
    """How many times the latest observation was halved (0: not cut)."""


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

    @property
    def unfitted(self) -> Fit:
        """The fit of a render with no limit: `keep_last` observations in full, nothing else cut."""
        return Fit(self.keep_last)

    def render(self, limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
        """The messages to send and their token estimate, fitted under `limit` tokens."""
        messages, total, _ = self.fit(limit)
        return messages, total

    def fit(self, limit: int | None = None) -> tuple[list[dict[str, Any]], int, Fit]:
        """`render`, and how it was fitted (`unfitted` when nothing beyond `keep_last` was cut).

        Raises:
            ContextOverflow: not even the system prompt, the task and a cut observation fit.
        """
        replies = sum(k == "reply" for k in self.kinds)
        has_obs = "observation" in self.kinds
        fit = self.unfitted
        while True:
            msgs = self.view(fit)
            total = sum(self.tokens(m) for m in msgs)
            if limit is None or total <= limit:
                return msgs, total, fit
            if fit.keep > 1:
                fit = Fit(fit.keep - 1, fit.dropped, fit.cut)
            elif fit.dropped < replies - 1:
                fit = Fit(fit.keep, fit.dropped + 1, fit.cut)
            elif has_obs and fit.cut < 6:
                fit = Fit(fit.keep, fit.dropped, fit.cut + 1)
            else:
                raise ContextOverflow(
                    f"the prompt needs about {total} tokens even with the history cut down, "
                    f"over the context window's {limit}; use a model with a larger context "
                    "window (or set agent option context_window if the model's is known to be "
                    "larger)"
                )

    def view(self, fit: Fit | None = None) -> list[dict[str, Any]]:
        """The messages a render with `fit` sends (default: `unfitted`). Messages kept as they
        were added are the very objects added; elided and cut ones are new."""
        fit = fit or self.unfitted
        obs = [i for i, k in enumerate(self.kinds) if k == "observation"]
        replies = [i for i, k in enumerate(self.kinds) if k == "reply"]
        return self._view(
            set(obs[-fit.keep :]) if fit.keep > 0 else set(),
            replies[fit.dropped] if fit.dropped else None,
            fit.dropped,
            fit.cut,
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
