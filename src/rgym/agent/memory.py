"""A memory that outlasts the episode: notes per task, ranked by BM25, offline.

Stored on the host at `$RGYM_CACHE/memory/<task>.jsonl` (one note a line: text, time, run), never
in the sandbox, so the agent's code cannot rewrite earlier episodes' notes. The agent loop carries
out `memory_write <text>` and `memory_read <query>` itself.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import time
from collections import Counter
from pathlib import Path

WORD = re.compile(r"[a-z0-9_]+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def bm25(query: str, docs: list[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    """The BM25 score of each doc for the query."""
    toks = [words(d) for d in docs]
    if not toks:
        return []
    avg = sum(map(len, toks)) / len(toks) or 1.0
    df = Counter(w for t in toks for w in set(t))
    n = len(toks)
    scores = []
    for t in toks:
        tf = Counter(t)
        s = 0.0
        for q in set(words(query)):
            if tf[q]:
                idf = math.log(1 + (n - df[q] + 0.5) / (df[q] + 0.5))
                s += idf * tf[q] * (k1 + 1) / (tf[q] + k1 * (1 - b + b * len(t) / avg))
        scores.append(s)
    return scores


class MemoryStore:
    def __init__(self, path: Path, run_id: str | None = None) -> None:
        self.path = Path(path)
        self.run_id = run_id

    @classmethod
    def for_env(cls, env) -> MemoryStore:
        """The store of env's task: `$RGYM_CACHE/memory/<task>.jsonl`."""
        from rgym.tasks.data import cache_root

        task = getattr(getattr(env, "spec_", None), "id", "task").replace("/", "_")
        record = getattr(env, "record", None)
        return cls(cache_root() / "memory" / f"{task}.jsonl", getattr(record, "run_id", None))

    def notes(self) -> list[dict]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def write(self, text: str) -> str:
        text = text.strip()
        if not text:
            return "Nothing saved: memory_write needs the note's text."
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps({"text": text, "time": time.time(), "run": self.run_id}) + "\n")
        return f"Saved to memory ({len(self.notes())} notes for this task)."

    def read(self, query: str, k: int = 3) -> str:
        notes = self.notes()
        if not notes:
            return "The memory is empty: no notes from earlier episodes of this task."
        scores = bm25(query, [n["text"] for n in notes])
        ranked = [
            i
            for i in sorted(range(len(notes)), key=lambda i: (-scores[i], -i))[:k]
            if scores[i] > 0
        ]
        if not ranked:
            latest = "\n".join(f"- {n['text']}" for n in notes[-k:])
            return f"No note matches {query!r}. The latest notes:\n{latest}"
        return "\n".join(
            f"Note {r + 1} (relevance {scores[i]:.2f}): {notes[i]['text']}"
            for r, i in enumerate(ranked)
        )

    def run(self, action: str) -> str | None:
        """Carry out a memory command; None when `action` is not one."""
        name, _, rest = action.strip().partition(" ")
        if name not in ("memory_write", "memory_read"):
            return None
        try:
            parts = shlex.split(rest)
            rest = " ".join(parts) if parts else rest
        except ValueError:
            pass
        return self.write(rest) if name == "memory_write" else self.read(rest)
