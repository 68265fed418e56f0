"""Reference solution: a captioner that keeps track of where things are.

Differences from baseline.py, each aimed at what the captions talk about:

- the encoder keeps its 4x4 grid of features (flattened) instead of averaging it away, and sees
  two coordinate channels, so "left of", "above" and "in the top right corner" can be learned;
- every epoch also shows each image mirrored left-right, with "left" and "right" swapped in its
  caption (twice the data for free), and the learning rate follows a one-cycle schedule;
- beam search (width 3) instead of greedy decoding: the likeliest caption as a whole, which is
  the phrasing the five references share most.

Writes submission.csv (id,caption) and prints held-out BLEU-4 as the grader computes it.
Run: python reference.py   (about three minutes on 2 CPU cores)
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
EPOCHS = 6
"""Each epoch shows every image twice: as it is and mirrored."""
BATCH = 64
LR = 3e-3
HIDDEN = 256
EMBED = 64
FEATURES = 128
BEAM = 3
MAX_LEN = 20
HOLDOUT = 500
PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
MIRROR = {"left": "right", "right": "left"}
"""Words that trade places when an image is mirrored left-right."""


def set_threads() -> None:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))


def tokenize(caption: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", caption.lower())


class Vocab:
    """Words seen at least twice in the training captions, plus four special tokens."""

    def __init__(self, captions: list[str], min_count: int = 2) -> None:
        counts = Counter(w for c in captions for w in tokenize(c))
        self.words = [PAD, BOS, EOS, UNK] + sorted(w for w, n in counts.items() if n >= min_count)
        self.index = {w: i for i, w in enumerate(self.words)}

    def encode(self, words: list[str]) -> list[int]:
        unk = self.index[UNK]
        return [
            self.index[BOS],
            *(self.index.get(w, unk) for w in words[: MAX_LEN - 1]),
            self.index[EOS],
        ]

    def decode(self, ids: list[int]) -> str:
        words = []
        for i in ids:
            if self.words[i] == EOS:
                break
            if self.words[i] not in (PAD, BOS, UNK):
                words.append(self.words[i])
        return " ".join(words)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


def block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
    )


class Captioner(nn.Module):
    """The baseline's CNN, but its 4x4 grid of features is kept (flattened) rather than averaged
    away, and two coordinate channels tell it where each pixel is."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            block(5, 16), block(16, 32), block(32, 64), block(64, 64),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(64 * 16, FEATURES), nn.ReLU(),
        )  # fmt: skip
        self.init_h = nn.Linear(FEATURES, HIDDEN)
        self.embed = nn.Embedding(vocab_size, EMBED)
        self.gru = nn.GRU(EMBED + FEATURES, HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, vocab_size)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        n, _, h, w = images.shape
        ys = torch.linspace(-1, 1, h, device=images.device).view(1, 1, h, 1).expand(n, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=images.device).view(1, 1, 1, w).expand(n, 1, h, w)
        return self.cnn(torch.cat([images, xs, ys], 1))

    def step(self, feats: torch.Tensor, words: torch.Tensor, h: torch.Tensor):
        f = feats.unsqueeze(1).expand(-1, words.shape[1], -1)
        y, h = self.gru(torch.cat([self.embed(words), f], -1), h)
        return self.out(y), h

    def forward(self, images: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        feats = self.encode(images)
        return self.step(feats, words, torch.tanh(self.init_h(feats)).unsqueeze(0))[0]

    @torch.no_grad()
    def beam_search(self, images: torch.Tensor, bos: int, eos: int) -> list[list[int]]:
        """The most likely caption of each image among BEAM kept at every step."""
        n, k = len(images), BEAM
        feats = self.encode(images).repeat_interleave(k, 0)
        h = torch.tanh(self.init_h(feats)).unsqueeze(0)
        words = torch.full((n * k, 1), bos, dtype=torch.long, device=images.device)
        score = torch.full((n, k), -1e9, device=images.device)
        score[:, 0] = 0.0  # all beams start as the same empty caption: keep one
        done = torch.zeros(n * k, dtype=torch.bool, device=images.device)
        seqs = torch.zeros(n * k, 0, dtype=torch.long, device=images.device)
        for _ in range(MAX_LEN):
            logits, h = self.step(feats, words[:, -1:], h)
            logp = logits[:, -1].log_softmax(-1)
            logp[done] = -1e9
            logp[done, eos] = 0.0  # a finished caption stays as it is
            vocab = logp.shape[1]
            total = (score.view(-1, 1) + logp).view(n, k * vocab)
            score, flat = total.topk(k, 1)
            beam = flat // vocab + torch.arange(n, device=images.device).view(-1, 1) * k
            word = (flat % vocab).view(-1)
            beam = beam.view(-1)
            seqs = torch.cat([seqs[beam], word.view(-1, 1)], 1)
            h = h[:, beam]
            done = done[beam] | (word == eos)
            words = word.view(-1, 1)
            if done.all():
                break
        best = seqs.view(n, k, -1)[:, 0]  # topk keeps beams sorted, best first
        return best.tolist()


def caption_all(model: Captioner, images: np.ndarray, vocab: Vocab, device: str) -> list[str]:
    model.eval()
    out = []
    bos, eos = vocab.index[BOS], vocab.index[EOS]
    for i in range(0, len(images), 250):
        x = to_tensor(images[i : i + 250]).to(device)
        out += [vocab.decode(row) for row in model.beam_search(x, bos, eos)]
    return out


def bleu4(captions: list[str], refs: list[list[str]]) -> float:
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
    # [image, caption, position] token ids; the second half holds the mirrored captions
    n_caps = len(refs[0])
    tokens = torch.zeros(len(train), 2 * n_caps, MAX_LEN + 1, dtype=torch.long)
    for row, i in enumerate(train):
        for k, caption in enumerate(refs[i]):
            words = tokenize(caption)
            for m, ws in ((0, words), (n_caps, [MIRROR.get(w, w) for w in words])):
                ids = vocab.encode(ws)
                tokens[row, m + k, : len(ids)] = torch.tensor(ids)
    train_images = images[train]  # uint8; made float a batch at a time

    model = Captioner(len(vocab.words)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    steps = EPOCHS * 2 * -(-len(train) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss(ignore_index=vocab.index[PAD])
    for epoch in range(EPOCHS):
        model.train()
        # every image twice, as it is and mirrored, each time with a caption drawn at random
        order = torch.from_numpy(rng.permutation(2 * len(train)))
        which = torch.from_numpy(rng.integers(n_caps, size=2 * len(train)))
        for b in range(0, len(order), BATCH):
            rows = order[b : b + BATCH]
            img, mirrored = rows % len(train), rows >= len(train)
            x = to_tensor(train_images[img.numpy()])
            x[mirrored] = x[mirrored].flip(-1)
            t = tokens[img, which[rows] + n_caps * mirrored.long()]
            t = t[:, : int((t != vocab.index[PAD]).sum(1).max())].to(device)
            logits = model(x.to(device), t[:, :-1])
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), t[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if epoch == EPOCHS - 1 or epoch % 3 == 2:
            held_caps = caption_all(model, images[held], vocab, device)
            score = bleu4(held_caps, [refs[i] for i in held])
            print(
                f"epoch {epoch + 1}/{EPOCHS}: loss {loss.item():.3f}, held-out BLEU-4 {score:.4f}"
            )
        else:
            print(
                f"epoch {epoch + 1}/{EPOCHS}: loss {loss.item():.3f} ({time.time() - start:.0f} s)"
            )
    print("examples:", *held_caps[:3], sep="\n  ")

    captions = caption_all(model, test_images, vocab, device)
    pd.DataFrame({"id": test_ids, "caption": captions}).to_csv("submission.csv", index=False)
    print(f"wrote submission.csv ({len(captions)} rows) in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
