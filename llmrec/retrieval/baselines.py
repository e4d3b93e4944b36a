"""Reference collaborative models, scored through the same ``user_vectors · item_vectors`` path as the sequential one.

- ``PopularityRecommender``: every user gets the most interacted-with items. The floor any learned model must beat.
- ``BPRRecommender``: matrix factorisation trained with Bayesian Personalised Ranking (Rendle et al., 2009), the
  classic non-sequential baseline. It is transductive: a user vector exists only for users seen in training, so it
  is addressed by training row (``users``), not by history.

Both express their scores as dot products (popularity as a 1-d vector product, BPR's item bias folded into an extra
coordinate), so the evaluation harness and a vector store treat all models alike. Both are fitted the one way every
retrieval model is (``llmrec.retrieval.protocol``): ``model.fit(data, config)``.
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
from llmrec.retrieval.protocol import TrainingData
from llmrec.retrieval.training_loop import EarlyStopping, flush_denormals, progress_bar


class PopularityConfig(BaseModel):
    """Popularity has nothing to tune; the empty config keeps the one ``fit(data, config)`` shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PopularityRecommender:
    """Scores each item by how often it occurs in the training sequences; identical for every user.

    Equal counts give equal scores; the metrics count such ties against the target (see ``llmrec.evaluation``).
    """

    def __init__(self) -> None:
        self.config: PopularityConfig | None = None
        self.counts = np.zeros(0, dtype=np.float64)

    @property
    def n_items(self) -> int:
        return len(self.counts)

    def fit(self, data: TrainingData, config: PopularityConfig | None = None) -> "PopularityRecommender":
        if not data.n_items:
            raise TrainingError("the item vocabulary is empty: there is nothing to recommend")
        self.config = config or PopularityConfig()
        self.counts = np.bincount(data.sequences.codes, minlength=data.n_items).astype(np.float64)  # (I,)
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

    score(u, i) = p_u · q_i + b_i, stored as user vector [p_u, 1] and item vector [q_i, b_i]. Users are the rows
    of the training sequences: a holdout must name them (``Holdout.users``).
    """

    def __init__(self) -> None:
        self.config: BPRConfig | None = None
        self.users: torch.Tensor | None = None  # (U, D) after fit
        self.items = torch.zeros(0, 0)  # (I, D)
        self.bias = torch.zeros(0)  # (I,)
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []

    @property
    def n_items(self) -> int:
        return len(self.bias)

    def fit(self, data: TrainingData, config: BPRConfig | None = None, *, progress: bool = False,
            on_epoch: Callable[[dict[str, float]], None] | None = None) -> "BPRRecommender":
        """Train on every (user row, item) pair of ``data.sequences``; one negative per pair per epoch.

        ``data.valid`` (with its user rows) enables early stopping on NDCG@10 (history masked); the best epoch's
        weights are kept. Reproducible from ``config.seed``.
        """
        from llmrec.evaluation.metrics import ndcg_at_k
        from llmrec.retrieval.protocol import holdout_ranks

        cfg = self.config = config or self.config or BPRConfig()
        n_items, sequences, valid = data.n_items, data.sequences, data.valid
        if not n_items:
            raise TrainingError("the item vocabulary is empty: there is nothing to recommend")
        if valid is not None and valid.users is None:
            raise TrainingError("BPR validates on users it was trained on: the holdout must give their rows")
        user_of = np.repeat(np.arange(len(sequences)), sequences.lengths())  # (P,)
        item_of = sequences.codes  # (P,)
        if not len(item_of):
            raise TrainingError("no interactions to train BPR on")
        seen_keys = np.unique(user_of * n_items + item_of)  # sorted (user, item) keys for negative rejection
        generator = torch.Generator().manual_seed(cfg.seed)
        users = torch.nn.Parameter(torch.randn(len(sequences), cfg.dim, generator=generator) * 0.1)
        items = torch.nn.Parameter(torch.randn(n_items, cfg.dim, generator=generator) * 0.1)
        bias = torch.nn.Parameter(torch.zeros(n_items))
        optimizer = torch.optim.Adam([users, items, bias], lr=cfg.lr)
        rng = np.random.default_rng(cfg.seed)
        n_batches = math.ceil(len(item_of) / cfg.batch_size)
        bar = progress_bar(cfg.epochs * n_batches, progress, "bpr")
        self.history = []
        stopping = EarlyStopping(cfg.patience)
        started = time.perf_counter()
        with flush_denormals():
            for epoch in range(1, cfg.epochs + 1):
                t0 = time.perf_counter()
                order = rng.permutation(len(item_of))
                negatives = sample_negatives(n_items, user_of, seen_keys, rng)  # (P,)
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
                    bar.set_postfix(epoch=epoch, loss=f"{float(loss.detach()):.3f}",
                                    best_ndcg10=f"{stopping.best_score:.4f}")
                self.users, self.items, self.bias = (users.detach().clone(), items.detach().clone(),
                                                     bias.detach().clone())
                record = {"epoch": epoch, "loss": total / len(order), "seconds": time.perf_counter() - t0}
                if valid is not None:
                    record["valid_ndcg10"] = ndcg_at_k(holdout_ranks(self, valid), 10)
                self.history.append(record)
                if on_epoch is not None:
                    on_epoch(record)
                # fresh clones each epoch: safe to keep as the snapshot
                if valid is not None and stopping.update(epoch, record["valid_ndcg10"],
                                                         lambda: (self.users, self.items, self.bias)):
                    break
        bar.close()
        if stopping.best_state is not None:
            self.users, self.items, self.bias = stopping.best_state
        self.metrics.update({"epochs_run": len(self.history), "train_seconds": time.perf_counter() - started,
                             "final_loss": self.history[-1]["loss"]})
        if valid is not None:
            self.metrics.update({"best_epoch": stopping.best_epoch, "valid_ndcg10": stopping.best_score})
        return self

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


def sample_negatives(n_items: int, user_of: np.ndarray, seen_keys: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """One uniformly drawn item per (user, item) pair that the pair's user has not interacted with (rejection
    sampling; ``seen_keys`` are the sorted ``user * n_items + item`` keys of every pair)."""
    negatives = rng.integers(0, n_items, size=len(user_of))
    redo = np.isin(user_of * n_items + negatives, seen_keys, assume_unique=False)
    for _ in range(100):  # a user who saw almost every item could loop long; 100 rounds leave ~0 collisions
        if not redo.any():
            break
        negatives[redo] = rng.integers(0, n_items, size=int(redo.sum()))
        redo[redo] = np.isin(user_of[redo] * n_items + negatives[redo], seen_keys)
    return negatives
