"""How a language model is scored: windows of hidden text, the model's log-probabilities of the
next token at every position, and the checks that make the number mean what it says.

The grader (grade.py) runs this loop with the model in a sandbox of its own; the starter's
evaluate.py runs the very same file with the model imported in-process, on text the agent has.

Windows. The hidden text (one stream of tokens: bytes, or GPT-2 tokens) is cut from its start
into consecutive blocks of `context + 1` tokens. A seeded sample of `windows` blocks is scored
(all blocks when `windows` is 0 or exceeds their number): the model sees the first `context`
tokens of a block and, at each position t, gives log-probabilities for the token at t + 1; the
loss is the mean negative log-probability of the true next token over every position of every
window, as a GPT's validation loss is computed. Blocks never overlap, and no window holds
another window's targets.

Checks, on every reply: one array, float32 or float64, shape [rows, context, V] with
vocab <= V <= vocab_max, finite, and normalised (the log-sum-exp at each position within 1e-3 of
0). Losses are computed from renormalised log-probabilities, so that slack buys nothing.

Causality: the prediction at position t may depend only on tokens 0..t. For a seeded sample of
windows, a copy is made whose tokens from a seeded cut on are replaced by text from elsewhere;
the copies are shuffled in among the windows (never in the same call as their original), and
the model's predictions before the cut must agree on the original and the copy (total variation
distance at most `causal_tolerance` at every position). A model that looks ahead, or one that is
not deterministic (dropout left on), fails. The grader sends the copies to a second, separate
process of the model (`check_call`): a model that kept the rows it was sent could otherwise
spot a copy by its prefix and replay the answers it gave for the original.

Time: the model's calls together may take at most `time_limit` seconds; a first call on one row
(not scored, not timed against the limit) lets it load and warm up.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

NORM_TOLERANCE = 1e-3
WARMUP_TIMEOUT = 120.0


class BadModel(Exception):
    """The model broke a rule of the interface; the message says which and how to fix it."""


@dataclass
class Settings:
    unit: str
    """'byte' (loss in bits per byte) or 'token' (loss in nats per token)."""
    vocab: int
    vocab_max: int
    context: int
    windows: int
    batch: int
    time_limit: float
    check_fraction: float = 1 / 16
    causal_tolerance: float = 1e-4

    @classmethod
    def from_dict(cls, d: dict) -> Settings:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class Plan:
    rows: np.ndarray
    """int64 [R, context]: the scored windows (first K rows), then the causality copies."""
    targets: np.ndarray
    """int64 [K, context]: the next token at each position of each scored window."""
    batches: list[np.ndarray]
    """Row indices, one array per call."""
    checks: list[tuple[int, int, int]]
    """(window row, copy row, cut): predictions before `cut` must agree."""
    warmup: np.ndarray
    """int64 [1, context]: an unscored row for the first call."""


def make_plan(stream: np.ndarray, s: Settings, seed: int) -> Plan:
    T = s.context
    n = len(stream) // (T + 1)
    if n < 2:
        raise ValueError(f"the text holds {len(stream)} tokens: too few for windows of {T + 1}")
    blocks = np.asarray(stream[: n * (T + 1)], dtype=np.int64).reshape(n, T + 1)
    rng = np.random.default_rng(seed)
    k = n if s.windows <= 0 or s.windows >= n else s.windows
    chosen = np.sort(rng.choice(n, size=k, replace=False))
    spare = np.setdiff1d(np.arange(n), chosen)
    x, y = blocks[chosen, :T], blocks[chosen, 1:]
    m = min(k, max(2, math.ceil(k * s.check_fraction))) if s.check_fraction > 0 else 0
    checks, copies = [], []
    for i, w in enumerate(rng.choice(k, size=m, replace=False)):
        cut = int(rng.integers(1, T))
        for _ in range(100):  # text from elsewhere: a block not scored where there is one
            pool = spare if len(spare) else np.delete(chosen, w)
            donor = blocks[pool[rng.integers(len(pool))], :T]
            copy = np.concatenate([x[w, :cut], donor[cut:]])
            if (copy != x[w]).any():
                break
        else:  # a text that repeats itself everywhere: change one token
            copy = x[w].copy()
            copy[cut] = (copy[cut] + 1) % s.vocab
        checks.append((int(w), k + i, cut))
        copies.append(copy)
    rows = np.concatenate([x, np.array(copies, dtype=np.int64).reshape(-1, T)])
    warm_src = blocks[spare[rng.integers(len(spare))]] if len(spare) else blocks[chosen[0]]
    return Plan(rows, y, _batches(len(rows), checks, s.batch, rng), checks, warm_src[None, :T])


def _batches(r: int, checks, size: int, rng) -> list[np.ndarray]:
    """Rows shuffled into calls of at most `size`; a copy never shares a call with its window."""
    nb = max(2, math.ceil(r / size))
    batches = [list(b) for b in np.array_split(rng.permutation(r), nb)]
    where = {row: i for i, b in enumerate(batches) for row in b}
    partner = {}
    for w, c, _ in checks:
        partner[w], partner[c] = c, w
    for w, c, _ in checks:
        while where[w] == where[c]:
            other = int(rng.integers(r))
            bo, bc = where[other], where[c]
            if bo == bc or where.get(partner.get(other, -1), -1) == bc:
                continue
            batches[bc][batches[bc].index(c)] = other
            batches[bo][batches[bo].index(other)] = c
            where[c], where[other] = bo, bc
    return [np.array(b, dtype=np.int64) for b in batches]


def check_reply(out, rows: int, s: Settings) -> np.ndarray:
    """The reply as an array, or BadModel saying what is wrong with it."""
    if isinstance(out, tuple | list):
        raise BadModel(f"logprobs() returned {len(out)} arrays; return one array")
    if not isinstance(out, np.ndarray):
        raise BadModel(f"logprobs() returned {type(out).__name__}; return a numpy array")
    want = f"[{rows}, {s.context}, {s.vocab}]"
    if s.vocab_max > s.vocab:
        want += f" (the last dimension may be up to {s.vocab_max})"
    if out.ndim != 3 or out.shape[:2] != (rows, s.context):
        raise BadModel(f"logprobs() returned shape {list(out.shape)}; expected {want}")
    if not s.vocab <= out.shape[2] <= s.vocab_max:
        raise BadModel(f"logprobs() returned shape {list(out.shape)}; expected {want}")
    if out.dtype not in (np.float32, np.float64):
        raise BadModel(
            f"logprobs() returned {out.dtype}; return float32 (or float64) log-probabilities "
            "(compute log_softmax in float32 even when the model runs in lower precision)"
        )
    bad = ~np.isfinite(out)
    if bad.any():
        r, t, v = (int(i[0]) for i in np.nonzero(bad))
        raise BadModel(
            f"logprobs() returned a non-finite value ({out[r, t, v]}) at row {r}, position {t}, "
            f"token {v}; every log-probability must be a finite number"
        )
    return out


def log_norm(out: np.ndarray) -> np.ndarray:
    """logsumexp over the last axis, [rows, context], in float64, a few positions at a time."""
    flat = out.reshape(-1, out.shape[-1])
    lse = np.empty(len(flat))
    step = max(1, (1 << 22) // out.shape[-1])
    for i in range(0, len(flat), step):
        part = flat[i : i + step].astype(np.float64)
        top = part.max(axis=1)
        lse[i : i + step] = top + np.log(np.exp(part - top[:, None]).sum(axis=1))
    return lse.reshape(out.shape[:2])


def check_normalised(lse: np.ndarray) -> None:
    off = np.abs(lse)
    if off.max() > NORM_TOLERANCE:
        r, t = np.unravel_index(int(off.argmax()), off.shape)
        raise BadModel(
            f"logprobs() is not normalised: at row {r}, position {t} the probabilities sum to "
            f"{math.exp(lse[r, t]):.6g} (logsumexp {lse[r, t]:.4g}); return log_softmax(logits) "
            f"over the whole vocabulary (tolerance {NORM_TOLERANCE:g} in logsumexp)"
        )


def tv_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Total variation between distributions given as (normalised) log-probabilities [t, V]."""
    return 0.5 * np.abs(np.exp(a.astype(np.float64)) - np.exp(b.astype(np.float64))).sum(axis=1)


def evaluate(call, stream: np.ndarray, s: Settings, seed: int, check_call=None) -> dict:
    """Score the model behind `call(rows, timeout) -> reply` on `stream`. Raises BadModel.

    With `check_call` (another process of the same model), the causality copies go there and
    only there; without it (evaluate.py, in-process) they are shuffled in among the windows."""
    t_start = time.monotonic()
    plan = make_plan(stream, s, seed)
    k = len(plan.targets)
    by_row: dict[int, list[tuple[int, int]]] = {}
    for j, (w, c, cut) in enumerate(plan.checks):
        by_row.setdefault(w, []).append((j, cut))
        by_row.setdefault(c, []).append((j, cut))
    first_seen: dict[int, np.ndarray] = {}

    t0 = time.monotonic()
    for fn in (call,) if check_call is None else (call, check_call):
        out = fn(plan.warmup, WARMUP_TIMEOUT)
        check_normalised(log_norm(check_reply(out, 1, s)))
    warmup_seconds = time.monotonic() - t0

    batches = [(call, b) for b in plan.batches]
    if check_call is not None:  # each call's windows to the model, its copies to the other one
        batches = [
            (f, part)
            for b in plan.batches
            for f, part in ((call, b[b < k]), (check_call, b[b >= k]))
            if len(part)
        ]
    nll, model_seconds, check_seconds, worst_tv = 0.0, 0.0, 0.0, 0.0
    done = 0
    for fn, b in batches:
        left = s.time_limit - model_seconds
        t0 = time.monotonic()
        out = fn(plan.rows[b], left + 1.0)
        dt = time.monotonic() - t0
        model_seconds += dt
        if model_seconds > s.time_limit:
            raise BadModel(
                f"the model needed more than {s.time_limit:g} s for the evaluation ({done} of "
                f"{len(plan.rows)} rows done, calls of up to {s.batch} rows of {s.context} "
                "tokens); make logprobs() faster (a smaller model, or fewer threads fighting)"
            )
        out = check_reply(out, len(b), s)
        t1 = time.monotonic()
        lse = log_norm(out)
        check_normalised(lse)
        scored = b < k
        if scored.any():
            idx = b[scored]
            lp = np.take_along_axis(out[scored], plan.targets[idx][:, :, None], axis=2)[..., 0]
            nll += float((lse[scored] - lp).sum())
        n_copies = int((~scored).sum())
        for i, row in enumerate(b):
            for j, cut in by_row.get(int(row), []):
                mine = out[i, :cut] - lse[i, :cut, None]
                if j not in first_seen:
                    first_seen[j] = mine.astype(np.float32)
                    continue
                tv = tv_distance(first_seen.pop(j), mine)
                worst_tv = max(worst_tv, float(tv.max()))
                if tv.max() > s.causal_tolerance:
                    t = int(tv.argmax())
                    w, c, _ = plan.checks[j]
                    raise BadModel(
                        "the model is not causal: its prediction at a position changed when "
                        f"only tokens after that position changed (position {t}, tokens from "
                        f"{cut} on replaced; total variation {tv.max():.3g} > "
                        f"{s.causal_tolerance:g}). logprobs()[:, t] may depend on tokens "
                        "0..t only (a causal mask), and must be deterministic (model.eval(), no "
                        "dropout or sampling)"
                    )
        check_seconds += dt * n_copies / len(b) + (time.monotonic() - t1) * n_copies / len(b)
        done += len(b)
    nats = nll / (k * s.context)
    metrics = {
        "val_loss": nats / math.log(2) if s.unit == "byte" else nats,
        "tokens": k * s.context,
        "windows": k,
        "causal_checks": len(plan.checks),
        "worst_causal_tv": worst_tv,
        "model_seconds": model_seconds,
        "warmup_seconds": warmup_seconds,
        "check_seconds": check_seconds,
        "seconds": time.monotonic() - t_start,
    }
    if s.unit == "byte":
        metrics["bits_per_byte"] = metrics["val_loss"]
        metrics["nats_per_byte"] = nats
    else:
        metrics["nats_per_token"] = nats
    return metrics
