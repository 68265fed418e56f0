"""Baseline: a small convolutional network (two conv layers, then a linear layer), two epochs.

Reads data/train_images.npy and data/train_labels.npy, trains, predicts every image of
data/test_images.npy and writes submission.csv (`id,label`; the id of an image is its row).
Run: python baseline.py   (a minute or two on 2 CPU cores). For longer runs use
`nohup python baseline.py > train.log 2>&1 &` and watch train.log.
"""

import os

import numpy as np
import pandas as pd
import torch
from torch import nn

SEED = 0
EPOCHS = 2
BATCH = 64
LR = 1e-3


class SimpleCNN(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 16x16
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8
        )
        self.classifier = nn.Linear(64 * 8 * 8, classes)

    def forward(self, x):
        x = (x - 0.5) / 0.25  # pixels in [0, 1] -> about [-2, 2]
        return self.classifier(self.features(x).flatten(1))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) -> float (N, 3, 32, 32) in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)


def train(x, y, epochs=EPOCHS, device="cpu", on_epoch=None) -> nn.Module:
    """Train on images x (float, N x 3 x 32 x 32) and labels y (int64); on_epoch(epoch, model)
    is called after each epoch (for learning curves)."""
    torch.manual_seed(SEED)
    model = SimpleCNN().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            xb, yb = x[idx].to(device), y[idx].to(device)
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
            total += len(idx)
        print(
            f"epoch {epoch + 1}: loss {loss_sum / total:.4f}, train accuracy {correct / total:.4f}"
        )
        if on_epoch:
            on_epoch(epoch + 1, model)
    return model


@torch.no_grad()
def predict(model: nn.Module, x, device="cpu") -> np.ndarray:
    model.eval()
    return torch.cat(
        [model(x[i : i + 1000].to(device)).argmax(1).cpu() for i in range(0, len(x), 1000)]
    ).numpy()


def main() -> None:
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x_train = to_tensor(np.load("data/train_images.npy"))
    y_train = torch.from_numpy(np.load("data/train_labels.npy").astype(np.int64))
    x_test = to_tensor(np.load("data/test_images.npy"))
    model = train(x_train, y_train, device=device)
    pred = predict(model, x_test, device)
    pd.DataFrame({"id": np.arange(len(pred)), "label": pred}).to_csv("submission.csv", index=False)
    print(f"wrote submission.csv ({len(pred)} rows)")


if __name__ == "__main__":
    main()
