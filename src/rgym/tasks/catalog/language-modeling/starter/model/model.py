"""The model the grader scores: a small GPT over bytes (GPT-2 tokens in the full variant).

The grader imports this file in a sandbox of its own (this folder is the working directory and
on sys.path; no network; the data/ folder is not there) and calls

    logprobs(tokens)  # int64 array [B, T] -> float32 array [B, T, V]

where out[b, t, v] is the log-probability that token t + 1 of row b is v, given tokens 0..t of
that row only. train.py writes weights.pt and config.json next to this file.
"""

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention, then an MLP."""

    def __init__(self, n_embd: int, n_head: int, dropout: float):
        super().__init__()
        self.n_head = n_head
        self.ln1 = nn.LayerNorm(n_embd)
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.ln2 = nn.LayerNorm(n_embd)
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.out = nn.Linear(4 * n_embd, n_embd)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        x = x + F.dropout(self.proj(y.transpose(1, 2).reshape(B, T, C)), p, self.training)
        return x + F.dropout(self.out(F.gelu(self.fc(self.ln2(x)))), p, self.training)


class GPT(nn.Module):
    def __init__(
        self,
        vocab_size: int = 256,
        context: int = 256,
        n_layer: int = 4,
        n_head: int = 4,
        n_embd: int = 128,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab_size, n_embd)
        self.pos = nn.Embedding(context, n_embd)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout) for _ in range(n_layer))
        self.ln = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.head.weight = self.tok.weight  # tied input and output embeddings
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, vocab] of the next token at every position (T <= context)."""
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(T, device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


_model: GPT | None = None


def load_model() -> GPT:
    if not (HERE / "weights.pt").is_file():
        raise FileNotFoundError(f"{HERE / 'weights.pt'} is missing: run `python train.py` first")
    model = GPT(**json.loads((HERE / "config.json").read_text()))
    model.load_state_dict(torch.load(HERE / "weights.pt", map_location="cpu", weights_only=True))
    return model.to(DEVICE).eval()


@torch.no_grad()
def logprobs(tokens: np.ndarray) -> np.ndarray:
    """Log-probabilities of the next token at every position: float32 [B, T, vocab]."""
    global _model
    if _model is None:
        _model = load_model()
    x = torch.as_tensor(np.asarray(tokens), dtype=torch.long, device=DEVICE)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=DEVICE == "cuda"):
        logits = _model(x)
    return F.log_softmax(logits.float(), dim=-1).cpu().numpy()
