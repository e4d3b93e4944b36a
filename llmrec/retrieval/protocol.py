"""The contract every retrieval model meets, the data it is fitted on, and how any of them is scored.

Every model here (popularity, BPR, EASE, the sequential networks, content profiles, fusions) is fitted one way,
``model.fit(data, config)``: ``data`` is a ``TrainingData`` (integer-coded sequences as columns, plus an optional
validation holdout for early stopping and model selection), ``config`` the model's own pydantic config. And every
model scores one way: ``user_vectors(histories, users) @ item_vectors().T``, which is exactly what a vector store
computes with the user vector as the query and item vectors as keys. So the numbers the evaluation protocols measure
are the numbers retrieval serves, and a new model is proven by the shared contract tests
(``llmrec.testing.retrieval_contract``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, Self, runtime_checkable

import numpy as np
from pydantic import BaseModel

from llmrec.errors import TrainingError
from llmrec.evaluation.metrics import target_ranks


class Sequences:
    """Variable-length integer sequences as two arrays: ``codes`` (N,) one after another, ``offsets`` (U+1,) where
    each starts. ``seqs[u]`` is user u's sequence (an int64 view); slices and iteration behave like a list of them."""

    def __init__(self, codes: np.ndarray, offsets: np.ndarray):
        self.codes = np.asarray(codes, dtype=np.int64)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        if self.offsets.ndim != 1 or not len(self.offsets) or self.offsets[0] != 0 \
                or self.offsets[-1] != len(self.codes) or (np.diff(self.offsets) < 0).any():
            raise ValueError("offsets must rise from 0 to the number of codes")

    @classmethod
    def from_lists(cls, sequences: "Sequence[Sequence[int]] | Sequences") -> "Sequences":
        if isinstance(sequences, Sequences):
            return sequences
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        codes = np.fromiter((int(i) for s in sequences for i in s), dtype=np.int64, count=int(lengths.sum()))
        return cls(codes, np.concatenate([[0], np.cumsum(lengths)]))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return Sequences.from_lists([self[u] for u in range(start, stop, step)])
            stop = max(start, stop)
            base = self.offsets[start]
            return Sequences(self.codes[base:self.offsets[stop]], self.offsets[start:stop + 1] - base)
        u = range(len(self))[index]
        return self.codes[self.offsets[u]:self.offsets[u + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.codes[a:b] for a, b in zip(self.offsets[:-1].tolist(), self.offsets[1:].tolist()))

    def lengths(self) -> np.ndarray:
        """(U,) each sequence's length."""
        return np.diff(self.offsets)

    def tolist(self) -> list[list[int]]:
        return [self.codes[a:b].tolist() for a, b in zip(self.offsets[:-1].tolist(), self.offsets[1:].tolist())]


@dataclass(frozen=True)
class Holdout:
    """Validation: each history's held-out next item. ``users`` are the histories' rows in the training sequences,
    for transductive models (BPR) that can only score users they were trained on."""

    histories: Sequences
    targets: np.ndarray  # (E,) int64 item codes
    users: np.ndarray | None = None  # (E,) int64 training rows

    def __post_init__(self):
        if len(self.histories) != len(self.targets) or (self.users is not None and len(self.users) != len(
                self.targets)):
            raise ValueError("a holdout needs one history (and user row) per target")

    @classmethod
    def of(cls, histories: Sequence[Sequence[int]] | Sequences, targets: Sequence[int],
           users: Sequence[int] | None = None) -> "Holdout":
        return cls(Sequences.from_lists(histories), np.asarray(targets, dtype=np.int64),
                   None if users is None else np.asarray(users, dtype=np.int64))

    def sample(self, n: int, seed: int) -> "Holdout":
        """At most ``n`` of the histories (a seeded sample, kept in order): for searches that score every item for
        every validation user, which must fit in memory on a big log."""
        if len(self.targets) <= n:
            return self
        rows = np.sort(np.random.default_rng(seed).choice(len(self.targets), n, replace=False))
        return Holdout(Sequences.from_lists([self.histories[j] for j in rows]), self.targets[rows],
                       None if self.users is None else self.users[rows])


@dataclass(frozen=True)
class TrainingData:
    """What a retrieval model is fitted on: each training user's item codes oldest first, over the vocabulary
    ``item_ids`` (code c is ``item_ids[c]``), and optionally a validation holdout."""

    item_ids: tuple[str, ...]
    sequences: Sequences
    valid: Holdout | None = None

    @classmethod
    def of(cls, item_ids: Sequence[str], sequences: Sequence[Sequence[int]] | Sequences,
           valid: Holdout | None = None) -> "TrainingData":
        data = cls(tuple(str(i) for i in item_ids), Sequences.from_lists(sequences), valid)
        n = len(data.item_ids)
        for codes in (data.sequences.codes, *(() if valid is None else (valid.histories.codes, valid.targets))):
            if codes.size and (codes.min() < 0 or codes.max() >= n):
                raise TrainingError(f"item code out of range [0, {n}) in the training data")
        return data

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def without_validation(self) -> "TrainingData":
        return TrainingData(self.item_ids, self.sequences, None)


@runtime_checkable
class VectorModel(Protocol):
    """What scoring needs: user vectors for histories (``users``: training rows, for transductive models; history
    models ignore them) and one vector per item code."""

    def user_vectors(self, histories: Sequence[Sequence[int]],
                     users: Sequence[int] | None = None) -> np.ndarray: ...  # (U, D)

    def item_vectors(self) -> np.ndarray: ...  # (I, D)


@runtime_checkable
class RetrievalModel(VectorModel, Protocol):
    """A retrieval model: fitted as ``fit(data, config)`` (config: the model's pydantic config, its default when
    None; returns the model itself), then scored through ``VectorModel``."""

    config: BaseModel | None

    def fit(self, data: TrainingData, config: BaseModel | None = None) -> Self: ...


def scores(model: VectorModel, histories: Sequence[Sequence[int]], users: Sequence[int] | None) -> np.ndarray:
    """(U, I) float64 scores: one dot product per item, or the model's own ``fused_scores`` for a ranking that is
    not one (rank fusion of several lists)."""
    if hasattr(model, "fused_scores"):
        return np.asarray(model.fused_scores(histories, users), dtype=np.float64)
    return np.asarray(model.user_vectors(histories, users) @ model.item_vectors().T, dtype=np.float64)


def masked_scores(model: VectorModel, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None,
                  mask_last: int | None = None) -> np.ndarray:
    """(U, I) dot-product scores with each user's history items set to -inf (never recommend what was seen).

    ``mask_last=200`` masks only the newest 200, as LlamaRec's code does (it masks the truncated model input), so
    numbers compare with its published ones; users with longer histories can then be shown older seen items.
    """
    out = scores(model, histories, users)
    if mask_last is not None:
        histories = [list(h)[-mask_last:] for h in histories]
    rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    cols = np.fromiter((i for h in histories for i in h), dtype=np.int64, count=len(rows))
    out[rows, cols] = -np.inf
    return out


def full_ranking_ranks(model: VectorModel, histories: Sequence[Sequence[int]], targets: np.ndarray,
                       users: Sequence[int] | None = None, batch_size: int = 512,
                       mask_last: int | None = None) -> np.ndarray:
    """(U,) pessimistic 0-based rank of each target among all items, history masked; computed in user batches."""
    ranks = []
    for start in range(0, len(histories), batch_size):
        stop = start + batch_size
        batch_users = None if users is None else users[start:stop]
        batch = masked_scores(model, histories[start:stop], batch_users, mask_last)  # (B, I)
        ranks.append(target_ranks(batch, targets[start:stop]))
    return np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)


def holdout_ranks(model: VectorModel, holdout: Holdout) -> np.ndarray:
    """(E,) each validation target's full-ranking rank, history masked."""
    return full_ranking_ranks(model, holdout.histories, holdout.targets, users=holdout.users)
