"""Reference collaborative models, scored through the same ``user_vectors · item_vectors`` path as the sequential one.

- ``PopularityRecommender``: every user gets the most interacted-with items. The floor any learned model must beat.
- ``BPRRecommender``: matrix factorisation trained with Bayesian Personalised Ranking (Rendle et al., 2009), the
  classic non-sequential baseline. It is transductive: a user vector exists only for users seen in training, so it
  is addressed by training row (``users``), not by history.

Both express their scores as dot products (popularity as a 1-d vector product, BPR's item bias folded into an extra
coordinate), so the evaluation harness and a vector store treat all models alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from llmrec.errors import TrainingError
from llmrec.retrieval.sequential import flush_denormals

# (histories, targets, users) in codes / training rows: what BPR early-stops on.
BPRValidationSet = tuple[Sequence[Sequence[int]], Sequence[int], Sequence[int]]


class PopularityRecommender:
    """Scores each item by how often it occurs in the training sequences; identical for every user.

    Equal counts give equal scores; the metrics count such ties against the target (see ``llmrec.evaluation``).
    """

    def __init__(self, n_items: int):
        if n_items < 1:
            raise TrainingError("the item vocabulary is empty: there is nothing to recommend")
        self.n_items = n_items
        self.counts = np.zeros(n_items, dtype=np.float64)

    def fit(self, sequences: Sequence[Sequence[int]]) -> "PopularityRecommender":
        codes = np.fromiter((i for seq in sequences for i in seq), dtype=np.int64)
        if codes.size and (codes.min() < 0 or codes.max() >= self.n_items):
            raise TrainingError(f"item code out of range [0, {self.n_items}) in a training sequence")
        self.counts = np.bincount(codes, minlength=self.n_items).astype(np.float64)  # (I,)
        return self

    def user_vectors(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None) -> np.ndarray:
        """(U, 1) ones: every user ranks items by the same count."""
        return np.ones((len(histories), 1), dtype=np.float64)

    def item_vectors(self) -> np.ndarray:
        """(I, 1) interaction counts."""
        return self.counts[:, None].copy()

    def score(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None) -> np.ndarray:
        """(U, I) counts, one row per history."""
        return self.user_vectors(histories, users) @ self.item_vectors().T


class BPRConfig(BaseModel):
    """Hyper-parameters of BPR matrix factorisation."""

    model_config = ConfigDict(extra="forbid")

    dim: int = Field(64, ge=1)
    epochs: int = Field(60, ge=1)
    batch_size: int = Field(1024, ge=1, description="(user, positive, negative) triples per step")
    lr: float = Field(5e-3, gt=0.0)
    weight_decay: float = Field(1e-3, ge=0.0, description="L2 penalty on the embeddings used in each triple")
    seed: int = 0
    patience: int = Field(5, ge=0, description="epochs without a better validation NDCG@10 before stopping; "
                                               "0 trains all epochs")


class BPRRecommender:
    """Matrix factorisation with an item bias, trained on (user, seen item, unseen item) triples.

    score(u, i) = p_u · q_i + b_i, stored as user vector [p_u, 1] and item vector [q_i, b_i].
    """

    def __init__(self, n_items: int, config: BPRConfig | None = None):
        if n_items < 1:
            raise TrainingError("the item vocabulary is empty: there is nothing to recommend")
        self.n_items = n_items
        self.config = config or BPRConfig()
        self.users: torch.Tensor | None = None  # (U, D) after fit
        self.items = torch.zeros(n_items, self.config.dim)  # (I, D)
        self.bias = torch.zeros(n_items)  # (I,)
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []

    def fit(self, sequences: Sequence[Sequence[int]], valid: BPRValidationSet | None = None,
            progress: bool = True, on_epoch: Callable[[dict[str, float]], None] | None = None) -> "BPRRecommender":
        """Train on every (user row, item) pair in ``sequences``; one negative per pair per epoch.

        ``valid = (histories, targets, users)`` enables early stopping on NDCG@10 (history masked); the best epoch's
        weights are kept. Reproducible from ``config.seed``.
        """
        cfg = self.config
        user_of = np.repeat(np.arange(len(sequences)), [len(s) for s in sequences])  # (P,)
        item_of = np.fromiter((i for s in sequences for i in s), dtype=np.int64, count=len(user_of))  # (P,)
        if not len(item_of):
            raise TrainingError("no interactions to train BPR on")
        if item_of.min() < 0 or item_of.max() >= self.n_items:
            raise TrainingError(f"item code out of range [0, {self.n_items}) in a training sequence")
        seen_keys = np.unique(user_of * self.n_items + item_of)  # sorted (user, item) keys for negative rejection
        generator = torch.Generator().manual_seed(cfg.seed)
        users = torch.nn.Parameter(torch.randn(len(sequences), cfg.dim, generator=generator) * 0.1)
        items = torch.nn.Parameter(torch.randn(self.n_items, cfg.dim, generator=generator) * 0.1)
        bias = torch.nn.Parameter(torch.zeros(self.n_items))
        optimizer = torch.optim.Adam([users, items, bias], lr=cfg.lr)
        rng = np.random.default_rng(cfg.seed)
        n_batches = math.ceil(len(item_of) / cfg.batch_size)
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.epochs * n_batches, disable=not progress, unit="batch", desc="bpr", dynamic_ncols=True)
        self.history = []
        best_ndcg, best_epoch, best_state, stale = -1.0, 0, None, 0
        started = time.perf_counter()
        with flush_denormals():
            for epoch in range(1, cfg.epochs + 1):
                t0 = time.perf_counter()
                order = rng.permutation(len(item_of))
                negatives = self._sample_negatives(user_of, seen_keys, rng)  # (P,)
                total = 0.0
                for start in range(0, len(order), cfg.batch_size):
                    batch = order[start:start + cfg.batch_size]
                    u = torch.from_numpy(user_of[batch])
                    i = torch.from_numpy(item_of[batch])
                    j = torch.from_numpy(negatives[batch])
                    pu, qi, qj = users[u], items[i], items[j]  # (B, D) each
                    margin = (pu * (qi - qj)).sum(1) + bias[i] - bias[j]  # (B,)
                    penalty = (pu.pow(2).sum() + qi.pow(2).sum() + qj.pow(2).sum()) / len(batch)
                    loss = -F.logsigmoid(margin).mean() + cfg.weight_decay * penalty
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    total += float(loss.detach()) * len(batch)
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, loss=f"{float(loss.detach()):.3f}", best_ndcg10=f"{best_ndcg:.4f}")
                self.users, self.items, self.bias = (users.detach().clone(), items.detach().clone(),
                                                     bias.detach().clone())
                record = {"epoch": epoch, "loss": total / len(order), "seconds": time.perf_counter() - t0}
                if valid is not None:
                    record["valid_ndcg10"] = self._validation_ndcg(valid)
                self.history.append(record)
                if on_epoch is not None:
                    on_epoch(record)
                if valid is None:
                    continue
                if record["valid_ndcg10"] > best_ndcg:
                    best_ndcg, best_epoch, stale = record["valid_ndcg10"], epoch, 0
                    best_state = (self.users, self.items, self.bias)  # fresh clones each epoch: safe to keep
                else:
                    stale += 1
                    if cfg.patience and stale >= cfg.patience:
                        break
        bar.close()
        if best_state is not None:
            self.users, self.items, self.bias = best_state
        self.metrics.update({"epochs_run": len(self.history), "train_seconds": time.perf_counter() - started,
                             "final_loss": self.history[-1]["loss"]})
        if valid is not None:
            self.metrics.update({"best_epoch": best_epoch, "valid_ndcg10": best_ndcg})
        return self

    def _sample_negatives(self, user_of: np.ndarray, seen_keys: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniformly drawn item per pair that the pair's user has not interacted with (rejection sampling)."""
        negatives = rng.integers(0, self.n_items, size=len(user_of))
        redo = np.isin(user_of * self.n_items + negatives, seen_keys, assume_unique=False)
        for _ in range(100):  # a user who saw almost every item could loop long; 100 rounds leave ~0 collisions
            if not redo.any():
                break
            negatives[redo] = rng.integers(0, self.n_items, size=int(redo.sum()))
            redo[redo] = np.isin(user_of[redo] * self.n_items + negatives[redo], seen_keys)
        return negatives

    def _validation_ndcg(self, valid: BPRValidationSet) -> float:
        from llmrec.evaluation.metrics import ndcg_at_k
        from llmrec.evaluation.protocols import full_ranking_ranks

        histories, targets, users = valid
        return ndcg_at_k(full_ranking_ranks(self, list(histories), np.asarray(targets), users=list(users)), 10)

    def user_vectors(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None) -> np.ndarray:
        """(U, D+1) ``[p_u, 1]`` for training rows ``users``; ``histories`` only fixes U (BPR cannot fold them in)."""
        if self.users is None:
            raise TrainingError("BPRRecommender is not fitted; call fit() first")
        if users is None:
            raise TrainingError("BPR scores users it was trained on: pass their training rows as `users`")
        if len(users) != len(histories):
            raise ValueError(f"{len(users)} users for {len(histories)} histories")
        rows = self.users[torch.as_tensor(list(users), dtype=torch.long)]  # (U, D)
        return torch.cat([rows, torch.ones(len(rows), 1)], dim=1).numpy().astype(np.float64)

    def item_vectors(self) -> np.ndarray:
        """(I, D+1) ``[q_i, b_i]``."""
        return torch.cat([self.items, self.bias[:, None]], dim=1).numpy().astype(np.float64)

    def score(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None) -> np.ndarray:
        """(U, I) unmasked scores."""
        return self.user_vectors(histories, users) @ self.item_vectors().T
