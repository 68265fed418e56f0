"""Baseline: a small CNN encoder and a GRU decoder, trained for a few epochs, greedy decoding.

Reads data/train_images.npy + data/train.csv (five captions per image), trains, writes one
caption per image of data/test_images.npy to submission.csv (id,caption), and prints BLEU-4 on
training images it kept aside, computed as the grader computes it (sacrebleu corpus BLEU,
13a tokens, lower-cased, 0-1 scale).
Run: python baseline.py   (a minute or two on 2 CPU cores)
"""

import os
import re
import time
from collections import Counter

import numpy as np
import pandas as pd
import torch
from sacrebleu.metrics import BLEU
from torch import nn

SEED = 0
EPOCHS = 5
BATCH = 64
LR = 3e-3
HIDDEN = 192
EMBED = 64
FEATURES = 64
MAX_LEN = 20
"""Words per caption, in training (longer ones are cut) and when decoding."""
HOLDOUT = 500
"""Training images kept aside to estimate BLEU (the model never trains on them)."""
PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"


def set_threads() -> None:
    """One thread per CPU the sandbox grants (rgym sets OMP_NUM_THREADS to it)."""
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))


def tokenize(caption: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", caption.lower())


class Vocab:
    """Words seen at least twice in the training captions, plus four special tokens."""

    def __init__(self, captions: list[str], min_count: int = 2) -> None:
        counts = Counter(w for c in captions for w in tokenize(c))
        self.words = [PAD, BOS, EOS, UNK] + sorted(w for w, n in counts.items() if n >= min_count)
        self.index = {w: i for i, w in enumerate(self.words)}

    def encode(self, caption: str) -> list[int]:
        unk = self.index[UNK]
        ids = [self.index.get(w, unk) for w in tokenize(caption)[: MAX_LEN - 1]]
        return [self.index[BOS], *ids, self.index[EOS]]

    def decode(self, ids: list[int]) -> str:
        words = []
        for i in ids:
            if self.words[i] == EOS:
                break
            if self.words[i] not in (PAD, BOS, UNK):
                words.append(self.words[i])
        return " ".join(words)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, S, S, 3) -> float (N, 3, S, S) in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


def block(cin: int, cout: int) -> nn.Sequential:
    """A 3x3 convolution that halves the resolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
    )


class Captioner(nn.Module):
    """A CNN summarises the image in one vector (averaged over positions); a GRU writes the
    caption word by word, seeing that vector at every step."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            block(3, 16), block(16, 32), block(32, 64), block(64, 64),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, FEATURES), nn.ReLU(),
        )  # fmt: skip
        self.init_h = nn.Linear(FEATURES, HIDDEN)
        self.embed = nn.Embedding(vocab_size, EMBED)
        self.gru = nn.GRU(EMBED + FEATURES, HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, vocab_size)

    def step_inputs(self, feats: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """Each word's embedding next to the image's features."""
        f = feats.unsqueeze(1).expand(-1, words.shape[1], -1)
        return torch.cat([self.embed(words), f], -1)

    def forward(self, images: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """Logits for each next word, given the words so far (teacher forcing)."""
        feats = self.cnn(images)
        h0 = torch.tanh(self.init_h(feats)).unsqueeze(0)
        y, _ = self.gru(self.step_inputs(feats, words), h0)
        return self.out(y)

    @torch.no_grad()
    def greedy(self, images: torch.Tensor, bos: int) -> torch.Tensor:
        feats = self.cnn(images)
        h = torch.tanh(self.init_h(feats)).unsqueeze(0)
        word = torch.full((len(images), 1), bos, dtype=torch.long, device=images.device)
        out = []
        for _ in range(MAX_LEN):
            y, h = self.gru(self.step_inputs(feats, word), h)
            word = self.out(y).argmax(-1)
            out.append(word)
        return torch.cat(out, 1)


def caption_all(model: Captioner, images: np.ndarray, vocab: Vocab, device: str) -> list[str]:
    model.eval()
    out = []
    for i in range(0, len(images), 500):
        x = to_tensor(images[i : i + 500]).to(device)
        out += [vocab.decode(row) for row in model.greedy(x, vocab.index[BOS]).tolist()]
    return out


def bleu4(captions: list[str], refs: list[list[str]]) -> float:
    """Corpus BLEU-4 on a 0-1 scale, as the grader computes it."""
    streams = [list(r) for r in zip(*refs, strict=True)]
    return BLEU(lowercase=True).corpus_score(captions, streams).score / 100


def main() -> None:
    start = time.time()
    set_threads()
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    images = np.load("data/train_images.npy")
    table = pd.read_csv("data/train.csv", dtype=str, keep_default_na=False)
    refs = table.filter(like="caption_").to_numpy().tolist()
    test_ids = pd.read_csv("data/test.csv", dtype=str)["id"].tolist()
    test_images = np.load("data/test_images.npy")

    perm = rng.permutation(len(images))
    n_held = min(HOLDOUT, len(images) // 10)
    held, train = perm[:n_held], perm[n_held:]
    vocab = Vocab([c for i in train for c in refs[i]])
    # Every caption of every training image as token ids: [image, caption, position].
    tokens = torch.zeros(len(train), len(refs[0]), MAX_LEN + 1, dtype=torch.long)
    for row, i in enumerate(train):
        for k, caption in enumerate(refs[i]):
            ids = vocab.encode(caption)
            tokens[row, k, : len(ids)] = torch.tensor(ids)
    train_images = images[train]  # uint8; made float a batch at a time

    model = Captioner(len(vocab.words)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss(ignore_index=vocab.index[PAD])
    for epoch in range(EPOCHS):
        model.train()
        # one pass over the images, each with one of its captions drawn at random
        order = torch.from_numpy(rng.permutation(len(train)))
        which = torch.from_numpy(rng.integers(tokens.shape[1], size=len(train)))
        for b in range(0, len(order), BATCH):
            rows = order[b : b + BATCH]
            x = to_tensor(train_images[rows.numpy()]).to(device)
            t = tokens[rows, which[rows]]
            t = t[:, : int((t != vocab.index[PAD]).sum(1).max())].to(device)  # drop shared padding
            logits = model(x, t[:, :-1])
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), t[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        held_caps = caption_all(model, images[held], vocab, device)
        score = bleu4(held_caps, [refs[i] for i in held])
        print(
            f"epoch {epoch + 1}/{EPOCHS}: loss {loss.item():.3f}, held-out BLEU-4 {score:.4f} "
            f"({time.time() - start:.0f} s)"
        )
    print("examples:", *held_caps[:3], sep="\n  ")

    captions = caption_all(model, test_images, vocab, device)
    pd.DataFrame({"id": test_ids, "caption": captions}).to_csv("submission.csv", index=False)
    print(f"wrote submission.csv ({len(captions)} rows) in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
