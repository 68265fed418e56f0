"""Baseline: a bag-of-embeddings classifier trained from scratch, then submission.csv.

Each sentence becomes the average of its word embeddings; the premise vector p and the
hypothesis vector h go to an MLP as [p, h, |p - h|, p * h]. The model sees which words the
two sentences have, not their order.

Where a pretrained encoder is available locally (`--encoder`, e.g. bert-base-uncased in the
Hugging Face cache, or a folder saved with save_pretrained), it is fine-tuned instead; nothing
is downloaded. Without one, the script says so and trains the bag of embeddings.

    python baseline.py                       # the bag of embeddings
    python baseline.py --encoder bert-base-uncased
"""

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

LABELS = ["entailment", "neutral", "contradiction"]
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
MIN_STEPS = 300


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", str(text).lower())


class Vocab:
    def __init__(self, texts, max_size=50_000):
        counts = Counter(t for s in texts for t in tokens(s))
        self.itos = ["<pad>", "<unk>"] + [w for w, _ in counts.most_common(max_size)]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def encode(self, texts, max_len=64) -> torch.Tensor:
        out = np.zeros((len(texts), max_len), dtype=np.int64)
        for i, s in enumerate(texts):
            ids = [self.stoi.get(t, 1) for t in tokens(s)][:max_len]
            out[i, : len(ids)] = ids
        return torch.from_numpy(out)


class BagOfEmbeddings(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 64, hidden: int = 256):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(4 * dim, hidden), nn.ReLU(), nn.Linear(hidden, 3))

    def pool(self, x):
        mask = (x > 0).float().unsqueeze(-1)
        return (self.embed(x) * mask).sum(1) / mask.sum(1).clamp(min=1)

    def forward(self, premise, hypothesis):
        p, h = self.pool(premise), self.pool(hypothesis)
        return self.mlp(torch.cat([p, h, (p - h).abs(), p * h], dim=-1))


def train_bag(train, test, epochs, seed):
    torch.manual_seed(seed)
    vocab = Vocab(pd.concat([train["premise"], train["hypothesis"]]))
    p, h = vocab.encode(train["premise"]), vocab.encode(train["hypothesis"])
    y = torch.tensor(train["label"].map(LABELS.index).to_numpy())
    model = BagOfEmbeddings(len(vocab.itos)).to(DEVICE)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    # small data sets get more passes: at least MIN_STEPS updates in all
    epochs = max(epochs, -(-MIN_STEPS // ((len(y) + 127) // 128)))
    for epoch in range(epochs):
        model.train()
        start, total = time.time(), 0.0
        for idx in torch.randperm(len(y)).split(128):
            loss = nn.functional.cross_entropy(
                model(p[idx].to(DEVICE), h[idx].to(DEVICE)), y[idx].to(DEVICE)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(
            f"epoch {epoch + 1}/{epochs}: loss {total / len(y):.4f} ({time.time() - start:.0f} s)"
        )
    model.eval()
    tp, th = vocab.encode(test["premise"]), vocab.encode(test["hypothesis"])
    preds = []
    with torch.no_grad():
        for idx in torch.arange(len(test)).split(1024):
            preds.append(model(tp[idx].to(DEVICE), th[idx].to(DEVICE)).argmax(-1).cpu())
    return torch.cat(preds).numpy()


def load_encoder(name):
    """A pretrained encoder from the local cache or a folder, or None (never downloads)."""
    try:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(name, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            name, num_labels=3, local_files_only=True
        )
        return tok, model
    except Exception as e:  # not cached, no network: fall back
        print(
            f"no pretrained encoder {name!r} available locally ({type(e).__name__}); "
            "training the bag of embeddings from scratch instead"
        )
        return None


def fine_tune(tok, model, train, test, epochs, seed, max_train, lr=2e-5, batch=32):
    torch.manual_seed(seed)
    train = train.sample(n=min(max_train, len(train)), random_state=seed)
    model.to(DEVICE)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)

    def batches(df, shuffle):
        order = np.random.default_rng(seed).permutation(len(df)) if shuffle else np.arange(len(df))
        for i in range(0, len(df), batch):
            rows = df.iloc[order[i : i + batch]]
            enc = tok(
                list(rows["premise"]),
                list(rows["hypothesis"]),
                truncation=True,
                max_length=128,
                padding=True,
                return_tensors="pt",
            )
            yield {k: v.to(DEVICE) for k, v in enc.items()}, rows

    for epoch in range(epochs):
        model.train()
        for enc, rows in batches(train, True):
            y = torch.tensor(rows["label"].map(LABELS.index).to_numpy(), device=DEVICE)
            loss = nn.functional.cross_entropy(model(**enc).logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}/{epochs}: last loss {loss.item():.4f}")
    model.eval()
    preds = []
    with torch.no_grad():
        for enc, _ in batches(test, False):
            preds.append(model(**enc).logits.argmax(-1).cpu())
    return torch.cat(preds).numpy()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encoder", default=None, help="a pretrained encoder to fine-tune")
    parser.add_argument("--max-train", type=int, default=50_000, help="pairs for fine-tuning")
    args = parser.parse_args()
    info = json.loads(Path("data/info.json").read_text())
    train, test = pd.read_csv("data/train.csv"), pd.read_csv("data/test.csv")
    print(f"{len(train)} training pairs, {len(test)} test pairs ({info['source']}); {DEVICE}")
    encoder = args.encoder or ("bert-base-uncased" if info["source"] == "mnli" else None)
    loaded = load_encoder(encoder) if encoder else None
    if loaded:
        preds = fine_tune(*loaded, train, test, 1, args.seed, args.max_train)
    else:
        preds = train_bag(train, test, args.epochs, args.seed)
    pd.DataFrame({"id": test["id"], "label": [LABELS[i] for i in preds]}).to_csv(
        "submission.csv", index=False
    )
    print("wrote submission.csv")


if __name__ == "__main__":
    main()
