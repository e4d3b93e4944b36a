"""The sequential networks: causal readers of a user's items (oldest → newest) whose output layer is the input item
table plus a per-item bias, so that a user vector times the item vectors is exactly the next-item logits.

Shapes: B users in a batch, T positions (left-padded; code 0 is padding, item code c is stored as c + 1), D the
hidden width, I the items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from llmrec.config import SequentialConfig


class _Block(nn.Module):
    """Pre-LayerNorm transformer block: causal self-attention then a GELU feed-forward, each with a residual."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.attn_norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ff_norm = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        # x (B, T, D); allowed (B, 1, T, T) bool, True where query t may attend to key s
        b, t, d = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        # q, k, v: (B, H, T, D/H)
        # No dropout on attention weights: on CPU it pushes SDPA onto a slow path (about 6x the attention time),
        # and dropout on embeddings, residual branches and the feed-forward already regularises enough.
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        x = x + self.dropout(self.proj(attended.transpose(1, 2).reshape(b, t, d)))  # (B, T, D)
        return x + self.dropout(self.ff(self.ff_norm(x)))


class _NextItemNetwork(nn.Module):
    """What every architecture shares: the output layer is the input item table plus a per-item bias (so a user
    vector times item vectors is the logits), and the init. Subclasses set ``items``, ``item_bias``, ``width`` (the
    hidden size) and ``forward``."""

    @staticmethod
    def _init(module: nn.Module) -> None:
        # Small normal init (BERT/RecBole style) keeps initial logits near zero, so the full softmax starts uniform.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()

    def item_table(self) -> torch.Tensor:
        """(I, D) output embeddings: the input item embeddings without the padding row."""
        return self.items.weight[1:]

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(N, D) hidden states → (N, I) next-item scores over every item."""
        return hidden @ self.item_table().T + self.item_bias

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Full-softmax cross-entropy of every real next item; (B, T) left-padded codes → (mean loss, #targets)."""
        hidden = self(inputs)  # (B, T, D)
        scored = (inputs != 0) & (targets != 0)  # (B, T) positions with a real input and a real next item
        return F.cross_entropy(self.logits(hidden[scored]), targets[scored] - 1), int(scored.sum())


class _SASRecNetwork(_NextItemNetwork):
    """Item + position embeddings → causal transformer → final LayerNorm; code 0 is padding.

    Sequences are left-padded and positions are counted from the *end* (the newest item always has position
    ``max_len - 1``), so a batch can be padded to its own longest sequence and inference on a short history uses
    the same position embeddings training used for the newest items.
    """

    def __init__(self, n_items: int, config: SequentialConfig):
        super().__init__()
        self.max_len = config.max_len
        self.width = config.dim
        self.items = nn.Embedding(n_items + 1, config.dim, padding_idx=0)  # row 0 = padding, row i+1 = item i
        self.positions = nn.Embedding(config.max_len, config.dim)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(config.dim, config.heads, config.dropout) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.dim)
        # Per-item output bias: absorbs popularity so the embeddings can spend their norm on taste (LRURec has one).
        self.item_bias = nn.Parameter(torch.zeros(n_items))
        self.apply(self._init)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """(B, T) left-padded internal codes, T <= max_len → (B, T, D) hidden states."""
        b, t = seq.shape
        real = seq != 0  # (B, T)
        positions = torch.arange(self.max_len - t, self.max_len, device=seq.device)  # (T,) right-aligned
        x = self.items(seq) + self.positions(positions)[None]  # (B, T, D)
        x = self.dropout(x) * real[..., None]
        causal = torch.ones(t, t, dtype=torch.bool, device=seq.device).tril()  # (T, T)
        # A padding query would have no key to attend to (softmax over nothing = NaN); let every position see itself.
        allowed = (causal[None] & real[:, None, :]) | torch.eye(t, dtype=torch.bool, device=seq.device)[None]
        allowed = allowed[:, None]  # (B, 1, T, T), broadcast over heads
        for block in self.blocks:
            x = block(x, allowed)
        return self.norm(x)


class _LRULayer(nn.Module):
    """Linear recurrent unit (Orvieto et al., 2023), as LRURec uses it: h_t = λ ⊙ h_{t-1} + γ ⊙ B x_t, y_t = Re(C h_t).

    λ is a learned complex diagonal with |λ| initialised in [0.8, 0.99], so every channel forgets at its own rate:
    a recency bias attention has to learn. Kept in real arithmetic (real and imaginary parts as separate real
    weights) so the weights stay plain float tensors in safetensors. The recurrence is evaluated as a causal
    convolution with the kernel λ^k through an FFT: O(T log T) per channel, no Python loop over time.
    """

    def __init__(self, dim: int, dropout: float, r_min: float = 0.8, r_max: float = 0.99):
        super().__init__()
        hidden = 2 * dim
        u1, u2 = torch.rand(hidden), torch.rand(hidden)
        nu_log = torch.log(-0.5 * torch.log(u1 * (r_max**2 - r_min**2) + r_min**2))  # |λ| = exp(-exp(nu_log))
        theta_log = torch.log(u2 * 2 * math.pi)
        gamma_log = 0.5 * torch.log(1 - torch.exp(-2 * torch.exp(nu_log)))  # γ = sqrt(1 - |λ|²): unit gain
        self.lru_log = nn.Parameter(torch.stack([nu_log, theta_log, gamma_log]))  # (3, H)
        self.in_re, self.in_im = nn.Linear(dim, hidden), nn.Linear(dim, hidden)
        self.out_re, self.out_im = nn.Linear(hidden, dim), nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        # x (B, T, D); real (B, T) bool, False on left padding (which must not leak into the state)
        t = x.shape[1]
        nu, theta, gamma = torch.exp(self.lru_log)  # (H,) each
        keep = real[..., None].to(x.dtype)
        u = torch.complex(self.in_re(x) * keep, self.in_im(x) * keep) * gamma  # (B, T, H) complex
        steps = torch.arange(t, dtype=x.dtype, device=x.device)[:, None]  # (T, 1)
        kernel = torch.exp(torch.complex(-nu * steps, theta * steps))  # (T, H): λ^k
        n = 2 * t  # zero-padded: a circular convolution of length 2T is the causal (linear) one on [0, T)
        h = torch.fft.ifft(torch.fft.fft(u, n=n, dim=1) * torch.fft.fft(kernel, n=n, dim=0)[None], dim=1)[:, :t]
        y = self.out_re(h.real) - self.out_im(h.imag)  # Re(C h) with C = out_re + i·out_im
        return self.norm(self.dropout(y) + x)


class _LRUBlock(nn.Module):
    """LRU layer then a GELU feed-forward, each post-LayerNorm with a residual (LRURec's block)."""

    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.lru = _LRULayer(dim, dropout)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim),
                                nn.Dropout(dropout))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        x = self.lru(x, real)
        return self.norm(self.ff(x) + x)


class _LRURecNetwork(_NextItemNetwork):
    """LRURec (Yue et al., 2024): item embeddings → LayerNorm → LRU blocks; no position embeddings (the recurrence
    orders the items). Same output layer as SASRec (item table + bias), so the same user/item vectors."""

    def __init__(self, n_items: int, config: SequentialConfig):
        super().__init__()
        self.max_len = config.max_len
        self.width = config.dim
        self.items = nn.Embedding(n_items + 1, config.dim, padding_idx=0)
        self.embed_norm = nn.LayerNorm(config.dim)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_LRUBlock(config.dim, config.dropout) for _ in range(config.layers))
        self.item_bias = nn.Parameter(torch.zeros(n_items))
        self.apply(self._init)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        real = seq != 0  # (B, T)
        x = self.embed_norm(self.dropout(self.items(seq)))  # (B, T, D)
        for block in self.blocks:
            x = block(x, real)
        return x


class _PairNetwork(_NextItemNetwork):
    """LRU and SASRec side by side, each trained on its own loss, served as one model whose logits are a weighted
    sum of theirs: ``mix[0] · LRU + mix[1] · SASRec``, the weight picked on validation.

    The two architectures err differently (a recency-biased recurrence, attention over the whole window), and on
    ml-latest-small their sum beat either alone and another seed of either (eval/README.md). It stays one model for
    the vector store: hidden states and item tables are concatenated, with the mix on the user side and the biases
    mixed into the one bias coordinate, so a user vector times item vectors is still exactly the served logits.
    ``mix`` is a buffer, so it is saved with the weights. The output layer (``logits``) is the shared one, over
    the concatenated table and the mixed bias.
    """

    def __init__(self, n_items: int, config: SequentialConfig):
        super().__init__()
        self.members = nn.ModuleList([_LRURecNetwork(n_items, config), _SASRecNetwork(n_items, config)])
        self.width = sum(member.width for member in self.members)  # hidden / item-table width
        self.register_buffer("mix", torch.tensor([0.5, 0.5]))

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        return torch.cat([w * member(seq) for w, member in zip(self.mix, self.members)], dim=-1)  # (B, T, 2D)

    def item_table(self) -> torch.Tensor:
        return torch.cat([member.item_table() for member in self.members], dim=1)  # (I, 2D)

    @property
    def item_bias(self) -> torch.Tensor:
        return sum(w * member.item_bias for w, member in zip(self.mix, self.members))

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The members' losses summed: each learns to predict on its own; the mix is chosen afterwards."""
        losses = [member.loss(inputs, targets) for member in self.members]
        return sum(loss for loss, _ in losses), losses[0][1]


NETWORKS = {"sasrec": _SASRecNetwork, "lru": _LRURecNetwork, "lru+sasrec": _PairNetwork}


def is_pair(network: nn.Module) -> bool:
    return isinstance(network, _PairNetwork)


def left_pad(sequences: Sequence[np.ndarray]) -> torch.Tensor:
    """(B, T) int64 tensor, each sequence right-aligned after zeros (T = longest sequence)."""
    width = max(len(s) for s in sequences)
    out = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        if len(seq):
            out[row, width - len(seq):] = seq
    return torch.from_numpy(out)

