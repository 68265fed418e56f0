"""Train the GPT of model/model.py and save it into model/ (weights.pt and config.json).

    python train.py                 # the baseline: a few minutes on 2 CPU cores
    python train.py --epochs 0.5    # any setting of Config can be changed on the command line

Bytes of data/train.txt (the default task), or GPT-2 tokens of data/fineweb10B/ (full). The
last works (or the last tokens) are held out: the loss on them is printed as training goes, and
at the end `evaluate.py`'s protocol scores the saved model on them.
"""

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent / "model"))
from model import GPT  # noqa: E402

DATA = Path("data")
OUT = Path("model")


@dataclass
class Config:
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 96
    context: int = 256
    """Set from data/eval.json: the grader's window length."""
    dropout: float = 0.0
    batch: int = 16
    grad_accum: int = 1
    epochs: float = 0.18
    """How much training text to read, in passes over it (0.18: about 150 steps here)."""
    steps: int = 0
    """Optimiser steps; 0: as many as `epochs` takes."""
    lr: float = 2e-3
    warmup: int = 10
    min_lr_frac: float = 1.0
    weight_decay: float = 0.1
    holdout_works: int = 2
    eval_every: int = 20
    seed: int = 0


FULL = Config(  # GPT-2 small on FineWeb tokens, on a GPU
    n_layer=12,
    n_head=12,
    n_embd=768,
    context=1024,
    batch=16,
    grad_accum=8,
    steps=1000,
    lr=6e-4,
    warmup=50,
    min_lr_frac=0.1,
    eval_every=100,
)


def load_data(cfg: Config) -> tuple[np.ndarray, np.ndarray, int]:
    """(train tokens, held-out tokens, vocabulary size)."""
    shards = sorted((DATA / "fineweb10B").glob("fineweb_train_*.bin"))
    if shards:  # full: uint16 tokens after a 256-int32 header
        parts = [np.memmap(p, dtype=np.uint16, mode="r", offset=1024) for p in shards]
        held = min(1 << 20, len(parts[-1]) // 2)
        train = np.concatenate(parts[:-1] + [parts[-1][:-held]])
        return train, np.asarray(parts[-1][-held:]), 50304  # 50257 padded to a multiple of 64
    text = np.fromfile(DATA / "train.txt", dtype=np.uint8)
    works = json.loads((DATA / "works.json").read_text())
    cut = works[-cfg.holdout_works]["offset"] if cfg.holdout_works else len(text)
    return text[:cut], text[cut:], 256


def batches(data: np.ndarray, cfg: Config, rng: np.random.Generator, device: str):
    while True:
        starts = rng.integers(0, len(data) - cfg.context - 1, cfg.batch)
        xy = torch.from_numpy(
            np.stack([data[s : s + cfg.context + 1] for s in starts]).astype(np.int64)
        )
        xy = xy.to(device)
        yield xy[:, :-1], xy[:, 1:]


def lr_at(step: int, cfg: Config) -> float:
    """Linear warmup, then cosine decay to min_lr_frac * lr."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))


@torch.no_grad()
def held_out_loss(model, data: np.ndarray, cfg: Config, device: str, n: int = 16) -> float:
    """Mean next-token loss (nats) on n fixed windows of the held-out text."""
    model.eval()
    step = max(1, (len(data) - cfg.context - 1) // n)
    xy = np.stack([data[i : i + cfg.context + 1] for i in range(0, step * n, step)][:n])
    xy = torch.from_numpy(xy.astype(np.int64)).to(device)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
        logits = model(xy[:, :-1])
    model.train()
    return F.cross_entropy(logits.float().flatten(0, 1), xy[:, 1:].flatten()).item()


def main() -> None:
    full = (DATA / "fineweb10B").is_dir()
    cfg = FULL if full else Config()
    # the model's context is the grader's window length (data/eval.json)
    cfg.context = json.loads((DATA / "eval.json").read_text())["context"]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    for k, v in asdict(cfg).items():
        p.add_argument(f"--{k.replace('_', '-')}", type=type(v), default=v)
    cfg = Config(**vars(p.parse_args()))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    train, held, vocab = load_data(cfg)
    if cfg.steps <= 0:
        cfg.steps = max(
            1, round(cfg.epochs * len(train) / (cfg.batch * cfg.grad_accum * cfg.context))
        )
    unit, per = ("token", 1.0) if full else ("byte", 1 / math.log(2))
    shape = dict(
        vocab_size=vocab,
        context=cfg.context,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        dropout=cfg.dropout,
    )
    model = GPT(**shape).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{n_params:,} parameters; {len(train):,} training {unit}s; {cfg.steps} steps; "
        f"device {device}",
        flush=True,
    )
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0}],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )
    stream = batches(train, cfg, rng, device)
    start = time.monotonic()
    for step in range(cfg.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        for _ in range(cfg.grad_accum):
            x, y = next(stream)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                logits = model(x)
            loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten()) / cfg.grad_accum
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            val = (
                held_out_loss(model, held, cfg, device)
                if len(held) > cfg.context + 1
                else float("nan")
            )
            print(
                f"step {step + 1}/{cfg.steps}  train {loss.item() * cfg.grad_accum * per:.3f}  "
                f"held-out {val * per:.3f} ({'bits per byte' if not full else 'nats per token'})  "
                f"{time.monotonic() - start:.0f} s",
                flush=True,
            )
    OUT.mkdir(exist_ok=True)
    torch.save(model.state_dict(), OUT / "weights.pt")
    (OUT / "config.json").write_text(json.dumps(shape))
    print(f"saved {OUT}/weights.pt and {OUT}/config.json after {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
