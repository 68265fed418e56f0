"""Baseline: a small CNN (two convolutions, then a linear layer) trained for a few epochs on CPU.

Reads data/train_images.npy and data/train_labels.npy, trains, predicts every image of
data/test_images.npy and writes submission.csv (id,label; id = the image's row).
Run: python baseline.py   (about a minute on 2 CPU cores)
"""

import os
import time

import numpy as np
import torch
from torch import nn

SEED = 0
EPOCHS = 2
BATCH = 128
LR = 0.01
HOLDOUT = 5000
"""Training images kept aside to estimate accuracy (the model never trains on them)."""
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def set_threads() -> None:
    """One thread per CPU the sandbox grants (rgym sets OMP_NUM_THREADS to it)."""
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1]."""
    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1)


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 14 x 14
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 7 x 7
        )  # fmt: skip
        self.head = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)])


if __name__ == "__main__":
    start = time.time()
    set_threads()
    torch.manual_seed(SEED)
    x = to_tensor(np.load("data/train_images.npy")).to(DEVICE)
    y = torch.from_numpy(np.load("data/train_labels.npy").astype(np.int64)).to(DEVICE)
    x_test = to_tensor(np.load("data/test_images.npy")).to(DEVICE)
    holdout = min(HOLDOUT, len(x) // 10)
    perm = torch.randperm(len(x), device=DEVICE)
    x_val, y_val = x[perm[:holdout]], y[perm[:holdout]]
    x_train, y_train = x[perm[holdout:]], y[perm[holdout:]]

    model = SmallCNN().to(DEVICE)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x_train), device=DEVICE)
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = (predict(model, x_val) == y_val).float().mean().item()
        print(f"epoch {epoch + 1}/{EPOCHS}: loss {loss.item():.3f}, held-out accuracy {acc:.4f}")

    labels = predict(model, x_test).cpu().numpy()
    with open("submission.csv", "w") as f:
        f.write("id,label\n")
        f.writelines(f"{i},{label}\n" for i, label in enumerate(labels))
    print(f"wrote submission.csv ({len(labels)} rows) in {time.time() - start:.0f} s")
