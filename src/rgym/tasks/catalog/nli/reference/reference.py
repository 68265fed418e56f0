"""Reference solution: a model that reads word order and compares the two sentences.

Each sentence is encoded by word and position embeddings and two 1-D convolutions, so every
word's vector knows its neighbours (the quantifier in front of a noun, an adjective, a
negation). Then, as in ESIM (Chen et al., 2017), each word attends to the words of the other
sentence, [a, a~, a - a~, a * a~] says what changed where, a third convolution and mean/max
pooling summarise it, and an MLP decides, with the baseline's bag-of-words features beside
it. Everything is parallel (no recurrence), so it trains in a few minutes on two CPU cores.

    python reference.py
"""

import argparse
import re
import time
from collections import Counter

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

LABELS = ["entailment", "neutral", "contradiction"]
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
MAX_LEN = 64


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", str(text).lower())


def encode(texts, stoi) -> torch.Tensor:
    rows = [[stoi.get(t, 1) for t in tokens(s)][:MAX_LEN] for s in texts]
    out = np.zeros((len(rows), max(map(len, rows))), dtype=np.int64)
    for i, ids in enumerate(rows):
        out[i, : len(ids)] = ids
    return torch.from_numpy(out)


class ConvESIM(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 64, hidden: int = 96):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.position = nn.Embedding(MAX_LEN, dim)
        self.conv1 = nn.Conv1d(dim, hidden, 3, padding=1)
        self.conv2 = nn.Conv1d(hidden, hidden, 3, padding=1)
        self.project = nn.Sequential(nn.Linear(4 * hidden, hidden), nn.ReLU())
        self.conv3 = nn.Conv1d(hidden, hidden, 3, padding=1)
        self.out = nn.Sequential(nn.Linear(4 * hidden + 4 * dim, 256), nn.ReLU(), nn.Linear(256, 3))

    @staticmethod
    def conv(layer, x):  # (B, T, C) -> (B, T, C')
        return torch.relu(layer(x.transpose(1, 2))).transpose(1, 2)

    def encode(self, x):
        z = self.embed(x) + self.position(torch.arange(x.shape[1], device=x.device))
        return self.conv(self.conv2, self.conv(self.conv1, z))

    def forward(self, premise, hypothesis):
        mp, mh = premise > 0, hypothesis > 0
        a, b = self.encode(premise), self.encode(hypothesis)
        scores = a @ b.transpose(1, 2)  # (B, Tp, Th)
        a_tilde = torch.softmax(scores.masked_fill(~mh[:, None, :], -1e9), -1) @ b
        b_tilde = torch.softmax(scores.transpose(1, 2).masked_fill(~mp[:, None, :], -1e9), -1) @ a

        def compare(x, x_tilde, mask):
            v = self.project(torch.cat([x, x_tilde, x - x_tilde, x * x_tilde], -1))
            v = self.conv(self.conv3, v)
            m = mask[..., None].float()
            mean = (v * m).sum(1) / m.sum(1).clamp(min=1)
            return torch.cat([mean, v.masked_fill(~mask[..., None], -1e9).max(1).values], -1)

        def bag(x, mask):  # the words alone, as the baseline sees them
            m = mask[..., None].float()
            return (self.embed(x) * m).sum(1) / m.sum(1).clamp(min=1)

        p, h = bag(premise, mp), bag(hypothesis, mh)
        words = torch.cat([p, h, (p - h).abs(), p * h], -1)
        return self.out(torch.cat([compare(a, a_tilde, mp), compare(b, b_tilde, mh), words], -1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    train, test = pd.read_csv("data/train.csv"), pd.read_csv("data/test.csv")
    counts = Counter(
        t for s in pd.concat([train["premise"], train["hypothesis"]]) for t in tokens(s)
    )
    stoi = {w: i + 2 for i, (w, _) in enumerate(counts.most_common(50_000))}
    p, h = encode(train["premise"], stoi), encode(train["hypothesis"], stoi)
    y = torch.tensor(train["label"].map(LABELS.index).to_numpy())
    model = ConvESIM(len(stoi) + 2, hidden=args.hidden).to(DEVICE)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    epochs = args.epochs
    steps = epochs * ((len(y) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        start, total = time.time(), 0.0
        for idx in torch.randperm(len(y)).split(128):
            logits = model(p[idx].to(DEVICE), h[idx].to(DEVICE))
            loss = nn.functional.cross_entropy(logits, y[idx].to(DEVICE))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        took = time.time() - start
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(y):.4f} ({took:.0f} s)")
    model.eval()
    tp, th = encode(test["premise"], stoi), encode(test["hypothesis"], stoi)
    with torch.no_grad():
        preds = torch.cat(
            [
                model(tp[i].to(DEVICE), th[i].to(DEVICE)).argmax(-1).cpu()
                for i in torch.arange(len(test)).split(1024)
            ]
        )
    pd.DataFrame({"id": test["id"], "label": [LABELS[i] for i in preds]}).to_csv(
        "submission.csv", index=False
    )
    print("wrote submission.csv")


if __name__ == "__main__":
    main()
