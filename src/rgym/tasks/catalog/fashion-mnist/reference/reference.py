"""Reference solution: a wider CNN with batch norm, trained longer with augmentation and a
one-cycle learning rate, then predicted with test-time augmentation.

What it changes from the baseline, and why:
- two conv blocks of 24 and 48 channels with batch norm, then a hidden layer of 128 with
  dropout: more capacity, and batch norm lets a high learning rate train it fast;
- random horizontal flips: clothes are close to left-right symmetric, so mirrored images are
  free extra data;
- AdamW with a one-cycle schedule and label smoothing, four epochs: a good model in few epochs;
- all 60,000 training images (no held-out part), and each test image's prediction averaged
  with its mirror image's.
Run: python reference.py   (about three minutes on 2 CPU cores; seconds on a GPU)
"""

import os
import time

import numpy as np
import torch
from torch import nn

SEED = 0
EPOCHS = 4
BATCH = 256
LR = 4e-3
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def set_threads() -> None:
    """One thread per CPU the sandbox grants (rgym sets OMP_NUM_THREADS to it)."""
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), standardised with Fashion-MNIST's statistics."""
    return (torch.from_numpy(images).float().div_(255.0).unsqueeze(1) - 0.286) / 0.353


def block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class Net(nn.Module):
    def __init__(self, w: int = 24, hidden: int = 128) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *block(1, w), nn.MaxPool2d(2),  # w x 14 x 14
            *block(w, 2 * w), nn.MaxPool2d(2),  # 2w x 7 x 7
        )  # fmt: skip
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(2 * w * 7 * 7, hidden), nn.ReLU(),
            nn.Dropout(0.25), nn.Linear(hidden, 10),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def augment(x: torch.Tensor) -> torch.Tensor:
    """Mirror a random half of the images."""
    flip = torch.rand(len(x), device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        out.append((model(xb).softmax(1) + model(xb.flip(3)).softmax(1)).argmax(1))
    return torch.cat(out)


if __name__ == "__main__":
    start = time.time()
    set_threads()
    torch.manual_seed(SEED)
    x = to_tensor(np.load("data/train_images.npy")).to(DEVICE)
    y = torch.from_numpy(np.load("data/train_labels.npy").astype(np.int64)).to(DEVICE)
    x_test = to_tensor(np.load("data/test_images.npy")).to(DEVICE)

    model = Net().to(DEVICE)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=5e-4)
    steps = EPOCHS * ((len(x) + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x), device=DEVICE)
        total = 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            loss = loss_fn(model(augment(x[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(
            f"epoch {epoch + 1}/{EPOCHS}: loss {total / len(x):.3f} ({time.time() - start:.0f} s)"
        )

    labels = predict(model, x_test).cpu().numpy()
    with open("submission.csv", "w") as f:
        f.write("id,label\n")
        f.writelines(f"{i},{label}\n" for i, label in enumerate(labels))
    print(f"wrote submission.csv ({len(labels)} rows) in {time.time() - start:.0f} s")
