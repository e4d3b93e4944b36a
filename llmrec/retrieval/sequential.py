"""A sequential recommender whose user vector is a vector-store query and item vectors are its keys.

The model reads a user's recent items (oldest → newest) through a causal network and predicts the next item: a
transformer (SASRec), linear recurrent units (LRURec), or both side by side as one model (the default).
Its output layer *is* the input item embedding table plus a per-item bias, so with the bias folded into one extra
coordinate (user side 1, item side b_i) the score of item i after history h is exactly

    score(h, i) = user_vector(h) · item_vector(i)        user_vector = [h, 1], item_vector = [e_i, b_i]

which is what lets the collaborative signal live in a vector store: item vectors are indexed once, a user vector is
computed per request and used as the query (inner-product search, or cosine after ``to_cosine_space``).

Training uses full softmax cross-entropy over all items at every position, not SASRec's original one sampled
negative per position with binary cross-entropy. On MovieLens-sized catalogs the full softmax is affordable, and it
is what makes SASRec match or beat BERT4Rec (Klenitskiy & Vasilev, RecSys 2023).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import platform
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import ValidationError
from torch import nn

# SequentialConfig lives in llmrec.config (the workspace config composes it without importing torch); it is
# re-exported here because it belongs to this model.
from llmrec.config import SequentialConfig  # noqa: F401
from llmrec.errors import ModelNotFoundError, TrainingError

MANIFEST_FORMAT = "llmrec.sequential/1"
WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "manifest.json"
_REQUIRED_MANIFEST_KEYS = ("format", "config", "item_ids")
_KNOWN_MANIFEST_KEYS = {*_REQUIRED_MANIFEST_KEYS, "data_hash", "metrics", "versions", "created", "history",
                        "counts"}

# (histories, targets) in item codes: what early stopping ranks on.
ValidationSet = tuple[Sequence[Sequence[int]], Sequence[int]]


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


_NETWORKS = {"sasrec": _SASRecNetwork, "lru": _LRURecNetwork, "lru+sasrec": _PairNetwork}
MIX_GRID = np.round(np.linspace(0.0, 1.0, 11), 2)  # LRU weights tried for the pair; SASRec gets 1 - w


class SequentialRecommender:
    """Train, query and persist the sequential model (any architecture) over a fixed item vocabulary.

    Items are addressed by *codes* (``0 .. len(item_ids)-1``); ``item_ids[c]`` is the external id of code ``c`` and
    row ``c`` of ``item_vectors()``. ``encode`` turns external-id histories into codes.
    """

    def __init__(self, item_ids: Sequence[str], config: SequentialConfig | None = None):
        # A subclass (the workspace's CollaborativeConfig) carries workspace settings the manifest must not keep.
        self.config = (config or SequentialConfig()).model_settings()
        self.item_ids = [str(i) for i in item_ids]
        if not self.item_ids:
            raise TrainingError("the item vocabulary is empty: there is nothing to recommend")
        if len(set(self.item_ids)) != len(self.item_ids):
            raise TrainingError("the item vocabulary has duplicate ids")
        self._code = {item: c for c, item in enumerate(self.item_ids)}
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []  # one entry per epoch: loss, validation NDCG@10, seconds
        self.data_hash: str | None = None
        self.counts: dict[str, int] = {}  # what the model was fitted on (users, items, interactions...)
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's global RNG
            torch.manual_seed(self.config.seed)
            self.network = _NETWORKS[self.config.architecture](len(self.item_ids), self.config)
        self.network.eval()

    # --- vocabulary ------------------------------------------------------------------------------------------------

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def encode(self, histories: Sequence[Sequence[str]]) -> list[list[int]]:
        """External item ids → codes; ids outside the vocabulary (items nobody interacted with) are dropped."""
        return [[self._code[i] for i in history if i in self._code] for history in histories]

    # --- training --------------------------------------------------------------------------------------------------

    def fit(self, sequences: Sequence[Sequence[int]], valid: ValidationSet | None = None,
            progress: bool = True, on_epoch: Callable[[dict[str, float]], None] | None = None,
            stop_after: int | None = None) -> "SequentialRecommender":
        """Train next-item prediction on ``sequences`` (codes, oldest first), early-stopping on ``valid``.

        With ``valid = (histories, targets)``, validation NDCG@10 (full ranking, history masked) is measured after
        every epoch; training stops after ``patience`` epochs without improvement and the best epoch's weights are
        kept. Without it, all ``epochs`` run, or the first ``stop_after`` of them on the same learning-rate schedule
        (how a validated run is replayed on all data). Reproducible from ``config.seed``; the global RNG is left as
        it was.
        """
        cfg = self.config
        samples = self._training_windows(sequences)
        if not samples:
            raise TrainingError("no training sequence has two or more items; nothing to learn from")
        self.data_hash = _sequences_hash(sequences, self.item_ids)
        generator = torch.Generator().manual_seed(cfg.seed)
        optimizer = torch.optim.AdamW(self._parameter_groups(), lr=cfg.lr)
        lengths = np.array([len(s) for s in samples])
        n_batches = math.ceil(len(samples) / cfg.batch_size)
        # Cosine decay to zero over the planned steps: late epochs settle instead of hopping between minima, which
        # on a 610-user validation set is the difference between a stable and a lucky early-stopping pick.
        total_steps = cfg.epochs * n_batches
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps)))
        best = {"ndcg10": -1.0, "epoch": 0}
        best_state = None
        stale = 0
        self.history = []
        bar = _progress_bar(min(cfg.epochs, stop_after or cfg.epochs) * n_batches, progress)
        started = time.perf_counter()
        with torch.random.fork_rng(devices=[]), flush_denormals():
            torch.manual_seed(cfg.seed + 1)  # dropout draws from the global RNG; fork_rng keeps that local
            for epoch in range(1, cfg.epochs + 1):
                t0 = time.perf_counter()
                self.network.train()
                total, count = 0.0, 0
                for batch in _length_bucketed_batches(lengths, cfg.batch_size, generator):
                    loss, n_targets = self._step(optimizer, [samples[i] for i in batch])
                    schedule.step()
                    total += loss * n_targets
                    count += n_targets
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, loss=f"{loss:.3f}", best_ndcg10=f"{best['ndcg10']:.4f}")
                self.network.eval()
                record = {"epoch": epoch, "loss": total / max(count, 1), "seconds": time.perf_counter() - t0}
                if valid is not None:
                    record["valid_ndcg10"] = self._validation_ndcg(valid)
                self.history.append(record)
                if on_epoch is not None:
                    on_epoch(record)
                if valid is None:
                    if stop_after is not None and epoch >= stop_after:
                        break
                    continue
                if record["valid_ndcg10"] > best["ndcg10"]:
                    best = {"ndcg10": record["valid_ndcg10"], "epoch": epoch}
                    best_state = copy.deepcopy(self.network.state_dict())
                    stale = 0
                else:
                    stale += 1
                    if cfg.patience and stale >= cfg.patience:
                        break
        bar.close()
        if best_state is not None:
            self.network.load_state_dict(best_state)
        self.network.eval()
        self.metrics.update({"epochs_run": len(self.history), "train_seconds": time.perf_counter() - started,
                             "final_loss": self.history[-1]["loss"]})
        if valid is not None:
            self.metrics.update({"best_epoch": best["epoch"], "valid_ndcg10": best["ndcg10"]})
            if isinstance(self.network, _PairNetwork):
                self.metrics["mix_lru"] = float(self.network.mix[0])  # SASRec's weight is 1 - mix_lru
        return self

    def refit(self, sequences: Sequence[Sequence[int]], progress: bool = True) -> "SequentialRecommender":
        """A fresh model of this config trained on ``sequences`` (e.g. every interaction, held-out items included)
        for this validated run's best epoch count, on the same schedule, serving what validation chose here (the
        pair's mix): the refit has no held-out items left to choose with."""
        if not self.metrics.get("best_epoch"):
            raise TrainingError("refit needs a model fitted with validation (it replays the validated epoch count)")
        refitted = SequentialRecommender(self.item_ids, self.config)
        refitted.fit(sequences, None, progress=progress, stop_after=int(self.metrics["best_epoch"]))
        if isinstance(self.network, _PairNetwork):
            refitted.network.mix.copy_(self.network.mix)
        return refitted

    def _parameter_groups(self) -> list[dict[str, Any]]:
        """Weight decay on matrices and embeddings only; biases and LayerNorm gains keep their scale (BERT practice)."""
        decay, no_decay = [], []
        for name, parameter in self.network.named_parameters():
            (no_decay if parameter.ndim < 2 else decay).append(parameter)
        return [{"params": decay, "weight_decay": self.config.weight_decay},
                {"params": no_decay, "weight_decay": 0.0}]

    def _training_windows(self, sequences: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Cut each sequence into windows of at most ``max_len + 1`` codes (``max_len`` inputs, as many targets).

        Windows end at the sequence end and step back by ``max_len``, so every item is a target exactly once per
        epoch and the newest items always get full context. Codes are shifted by one (0 is padding).
        """
        span = self.config.max_len + 1
        windows = []
        for seq in sequences:
            seq = np.asarray(seq, dtype=np.int64)
            if seq.size and (seq.min() < 0 or seq.max() >= self.n_items):
                raise TrainingError(f"item code out of range [0, {self.n_items}) in a training sequence")
            end = len(seq)
            while end >= 2:
                start = max(0, end - span)
                windows.append(seq[start:end] + 1)
                end = start + 1  # the first item of this window is the last input of the previous one
                if start == 0:
                    break
        return windows

    def _step(self, optimizer: torch.optim.Optimizer, batch: list[np.ndarray]) -> tuple[float, int]:
        seqs = _left_pad(batch)  # (B, T+1)
        loss, n_targets = self.network.loss(seqs[:, :-1], seqs[:, 1:])  # inputs, next items: (B, T) each
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.network.parameters(), 5.0)
        optimizer.step()
        return float(loss.detach()), n_targets

    def _validation_ndcg(self, valid: ValidationSet) -> float:
        """Validation NDCG@10 (full ranking, history masked); for the pair, at the best mix, which it then keeps."""
        from llmrec.evaluation.metrics import ndcg_at_k, target_ranks
        from llmrec.evaluation.protocols import full_ranking_ranks, masked_scores

        histories, targets = list(valid[0]), np.asarray(valid[1])
        if not isinstance(self.network, _PairNetwork):
            return ndcg_at_k(full_ranking_ranks(self, histories, targets), 10)
        # Each member's logits once per user batch, then every mix on the grid as a weighted sum of them.
        ranks: list[list[np.ndarray]] = [[] for _ in MIX_GRID]
        for start in range(0, len(histories), 512):
            chunk, chunk_targets = histories[start:start + 512], targets[start:start + 512]
            members = []
            for index in (0, 1):
                with self.only_member(index):
                    members.append(masked_scores(self, chunk))  # (B, I), history at -inf
            for j, w in enumerate(MIX_GRID):
                with np.errstate(invalid="ignore"):  # -inf * 0 on masked items stays masked below
                    mixed = np.where(np.isneginf(members[0]), -np.inf, w * members[0] + (1 - w) * members[1])
                ranks[j].append(target_ranks(mixed, chunk_targets))
        scores = [ndcg_at_k(np.concatenate(r), 10) for r in ranks]
        best = int(np.argmax(scores))  # ties → the smaller LRU weight, deterministic
        self.network.mix.copy_(torch.tensor([MIX_GRID[best], 1.0 - MIX_GRID[best]]))
        return float(scores[best])

    @contextmanager
    def only_member(self, index: int) -> Iterator[None]:
        """Inside, the pair scores as one member alone (0 = LRU, 1 = SASRec): its mix is set to that member and
        restored on exit. Each member was trained on its own loss, so this is how the pair's parts are measured."""
        if not isinstance(self.network, _PairNetwork):
            raise ValueError(f"only a lru+sasrec pair has members, not {self.config.architecture}")
        mix = self.network.mix.clone()
        self.network.mix.copy_(torch.eye(2, dtype=mix.dtype)[index])
        try:
            yield
        finally:
            self.network.mix.copy_(mix)

    # --- vectors ---------------------------------------------------------------------------------------------------

    @property
    def vector_dim(self) -> int:
        """Width of user and item vectors: the hidden width (``dim``; twice that for the pair) plus one coordinate
        carrying the item bias."""
        return self.network.width + 1

    @torch.no_grad()
    def user_vectors(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None,
                     batch_size: int = 256) -> np.ndarray:
        """(U, dim + 1) float32 query vectors ``[h, 1]`` from item-code histories (oldest first).

        ``h`` is the transformer state at the newest item; only the newest ``max_len`` items count. The constant 1
        picks up the item bias stored in the keys' last coordinate. ``users`` is accepted for interface parity with
        transductive baselines and ignored: the vector depends on the history alone, so it works for users the
        model never saw. An empty history gives ``[0, ..., 0, 1]``: items ranked by bias alone (a popularity prior).
        """
        self.network.eval()
        out = np.zeros((len(histories), self.vector_dim), dtype=np.float32)
        out[:, -1] = 1.0
        for start in range(0, len(histories), batch_size):
            chunk = [np.asarray(h[-self.config.max_len:], dtype=np.int64) + 1
                     for h in histories[start:start + batch_size]]
            nonempty = [j for j, h in enumerate(chunk) if h.size]
            if not nonempty:
                continue
            hidden = self.network(_left_pad([chunk[j] for j in nonempty]))  # (B, T, D)
            out[[start + j for j in nonempty], :-1] = hidden[:, -1].numpy()  # newest position summarises history
        return out

    @torch.no_grad()
    def item_vectors(self) -> np.ndarray:
        """(I, dim + 1) float32 key vectors ``[e_i, b_i]``; row c is ``item_ids[c]``.

        ``user_vectors(h) @ item_vectors().T`` equals the network's next-item logits exactly.
        """
        keys = torch.cat([self.network.item_table(), self.network.item_bias[:, None]], dim=1)  # (I, D+1)
        return keys.detach().numpy().astype(np.float32, copy=True)

    def score(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None) -> np.ndarray:
        """(U, I) next-item scores (unmasked logits)."""
        return self.user_vectors(histories, users) @ self.item_vectors().T

    # --- persistence -----------------------------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write ``model.safetensors`` and ``manifest.json`` (config, vocabulary, data hash, metrics, versions)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.network.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_FILE), metadata={"format": MANIFEST_FORMAT})
        manifest = {
            "format": MANIFEST_FORMAT,
            "config": self.config.model_dump(),
            "item_ids": self.item_ids,
            "data_hash": self.data_hash,
            "counts": self.counts,
            "metrics": self.metrics,
            "history": self.history,
            "versions": _versions(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "SequentialRecommender":
        """Rebuild a saved model from safetensors weights (never pickle) and its manifest.

        Unknown manifest keys only warn (a newer llmrec may add some); a missing required key, an invalid config or
        weights that do not fit the config fail with ``TrainingError``.
        """
        from safetensors.torch import load_file

        directory = Path(directory)
        manifest_path, weights_path = directory / MANIFEST_FILE, directory / WEIGHTS_FILE
        for path in (manifest_path, weights_path):
            if not path.is_file():
                raise ModelNotFoundError(f"{path} does not exist; is {directory} a folder written by "
                                         "SequentialRecommender.save?")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TrainingError(f"{manifest_path}: not valid JSON: {e}") from None
        if not isinstance(manifest, dict):
            raise TrainingError(f"{manifest_path}: must be a JSON object")
        missing = [k for k in _REQUIRED_MANIFEST_KEYS if k not in manifest]
        if missing:
            raise TrainingError(f"{manifest_path}: missing required key(s) {', '.join(missing)}; "
                                "the folder is incomplete or was not written by SequentialRecommender.save")
        unknown = sorted(set(manifest) - _KNOWN_MANIFEST_KEYS)
        if unknown:
            warnings.warn(f"{manifest_path}: ignoring unknown key(s) {', '.join(unknown)}", stacklevel=2)
        if manifest["format"] != MANIFEST_FORMAT:
            raise TrainingError(f"{manifest_path}: format {manifest['format']!r} is not {MANIFEST_FORMAT!r}")
        try:
            config = SequentialConfig.from_manifest(manifest["config"])
        except (ValidationError, TypeError) as e:
            raise TrainingError(f"{manifest_path}: invalid config: {e}") from None
        model = cls(manifest["item_ids"], config)
        try:
            model.network.load_state_dict(load_file(str(weights_path)), strict=True)
        except (RuntimeError, OSError) as e:
            raise TrainingError(f"{weights_path}: weights do not match the manifest's config and vocabulary: "
                                f"{str(e).splitlines()[0]}") from None
        model.network.eval()
        model.data_hash = manifest.get("data_hash")
        model.counts = dict(manifest.get("counts") or {})
        model.metrics = dict(manifest.get("metrics") or {})
        model.history = list(manifest.get("history") or [])
        return model


def to_cosine_space(user_vectors: np.ndarray, item_vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map dot-product search to cosine search without changing any user's ranking.

    Vector stores configured for cosine distance normalise vectors, which would drop the item norms the model's
    scores depend on. Append one coordinate: items get ``sqrt(M² - |v|²)`` (M = largest item norm) so every item has
    norm M, users get 0. Then cos(u', v') = u·v / (|u|·M): a positive per-user constant times the dot product, so
    each user's order of items is unchanged (Bachrach et al., 2014). Returns (U, D+1) and (I, D+1) float32.
    """
    items = np.asarray(item_vectors, dtype=np.float64)
    norms_sq = (items**2).sum(axis=1)  # (I,)
    extra = np.sqrt(np.maximum(norms_sq.max() - norms_sq, 0.0))[:, None]  # (I, 1)
    users = np.asarray(user_vectors, dtype=np.float64)
    return (np.hstack([users, np.zeros((len(users), 1))]).astype(np.float32),
            np.hstack([items, extra]).astype(np.float32))


@contextmanager
def flush_denormals() -> Iterator[None]:
    """Treat denormal floats as zero while training, then restore the default.

    As Adam's second-moment estimates and small gradients decay they become denormal, and x86 CPUs process those
    through a slow microcode path: BPR epochs were measured going from 0.5 s to 25 s on this machine. Flushing them
    changes results only below 1e-38.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _left_pad(sequences: Sequence[np.ndarray]) -> torch.Tensor:
    """(B, T) int64 tensor, each sequence right-aligned after zeros (T = longest sequence)."""
    width = max(len(s) for s in sequences)
    out = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        if len(seq):
            out[row, width - len(seq):] = seq
    return torch.from_numpy(out)


def _length_bucketed_batches(lengths: np.ndarray, batch_size: int, generator: torch.Generator) -> list[np.ndarray]:
    """Batches of similar-length windows, in random order: less padding than random batches, still shuffled.

    Lengths get uniform jitter of up to one batch's spread before sorting, so batch composition changes each epoch.
    """
    jitter = torch.rand(len(lengths), generator=generator).numpy() * 8.0
    order = np.argsort(lengths + jitter, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    permutation = torch.randperm(len(batches), generator=generator).numpy()
    return [batches[i] for i in permutation]


def _sequences_hash(sequences: Sequence[Sequence[int]], item_ids: Sequence[str]) -> str:
    digest = hashlib.sha256(json.dumps(list(item_ids)).encode())
    for seq in sequences:
        digest.update(np.asarray(seq, dtype=np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:16]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
    for package in ("safetensors", "llmrec"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit="batch", desc="sequential", dynamic_ncols=True)
