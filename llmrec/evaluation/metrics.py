"""Top-k ranking metrics computed from the rank of one held-out target among scored items.

Every metric here starts from ``target_ranks``: the 0-based position of the target in the ranked list. Ties are
counted **pessimistically**: an item whose score equals the target's is placed ahead of it. Optimistic or
index-order tie breaking rewards a model for emitting constant scores (popularity with many equal counts, a collapsed
network, masked items at -inf) and makes the number depend on how the item vocabulary happens to be ordered; the
pessimistic rule cannot be gamed that way and is the one a user would see in the worst case.

With one relevant item per user the usual definitions reduce to (rank r, 0-based):

- Recall@k (= hit rate) = 1 if r < k else 0
- NDCG@k = 1 / log2(r + 2) if r < k else 0 (the ideal DCG is 1)
- MRR@k = 1 / (r + 1) if r < k else 0

These match LlamaRec's ``absolute_recall_mrr_ndcg_for_ks`` for a single target, except for its tie rule (argsort).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

# Short names used in reports ("N@10") mapped to the long names used as dict keys ("NDCG@10").
METRIC_NAMES = {"R": "Recall", "N": "NDCG", "M": "MRR"}


def target_ranks(scores: np.ndarray, targets: Sequence[int] | np.ndarray) -> np.ndarray:
    """0-based rank of each row's target among that row's scores, ties counted against the target.

    Args:
        scores: (U, I) higher is better. Items that must not be recommended (the user's history) should be set to
            ``-inf``; a target that is itself masked then ranks behind every unmasked item, i.e. counts as a miss.
        targets: (U,) column index of each row's held-out item.

    Returns:
        (U,) int64: number of *other* items whose score is >= the target's score.
    """
    scores = np.asarray(scores)
    targets = np.asarray(targets, dtype=np.int64)
    if scores.ndim != 2 or targets.shape != (scores.shape[0],):
        raise ValueError(f"expected scores (U, I) and targets (U,), got {scores.shape} and {targets.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; a model produced invalid output (NaN would make ranks meaningless)")
    if targets.size and (targets.min() < 0 or targets.max() >= scores.shape[1]):
        raise ValueError(f"target index out of range [0, {scores.shape[1]})")
    target_scores = scores[np.arange(len(targets)), targets][:, None]  # (U, 1)
    # (U,) count of items at or above the target, minus the target itself
    return (scores >= target_scores).sum(axis=1).astype(np.int64) - 1


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    """Share of users whose target is in the top k (hit rate; one relevant item per user)."""
    ranks = _check(ranks, k)
    return float((ranks < k).mean()) if ranks.size else 0.0


def ndcg_at_k(ranks: np.ndarray, k: int) -> float:
    """Mean NDCG@k with one relevant item: 1/log2(rank+2) inside the top k, 0 outside."""
    ranks = _check(ranks, k)
    return float(per_user_ndcg(ranks, k).mean()) if ranks.size else 0.0


def mrr_at_k(ranks: np.ndarray, k: int) -> float:
    """Mean reciprocal rank truncated at k: 1/(rank+1) inside the top k, 0 outside."""
    ranks = _check(ranks, k)
    if not ranks.size:
        return 0.0
    return float(np.where(ranks < k, 1.0 / (ranks.astype(np.float64) + 1.0), 0.0).mean())


def ranking_metrics(ranks: np.ndarray, ks: Iterable[int] = (5, 10)) -> dict[str, float]:
    """Recall, NDCG and MRR at each k, keyed ``"Recall@10"``, ``"NDCG@10"``, ``"MRR@10"``."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"Recall@{k}"] = recall_at_k(ranks, k)
        out[f"NDCG@{k}"] = ndcg_at_k(ranks, k)
        out[f"MRR@{k}"] = mrr_at_k(ranks, k)
    return out


def per_user_ndcg(ranks: np.ndarray, k: int) -> np.ndarray:
    """(U,) each user's NDCG@k (one relevant item): the per-user values ``ndcg_at_k`` averages, for paired tests.
    The one place the gain 1/log2(rank + 2) is written."""
    ranks = np.asarray(ranks)
    return np.where(ranks < k, 1.0 / np.log2(ranks.astype(np.float64) + 2.0), 0.0)


def random_order_ndcg(k: int, n: int) -> float:
    """Exact expected NDCG@k of a uniformly random order of ``n`` candidates with one relevant item."""
    return sum(1.0 / math.log2(r + 2) for r in range(min(k, n))) / n


def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    """Mean of the per-user differences a - b, its standard error and z = mean/SE (None without a spread)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    mean = float(d.mean())
    return {"mean": round(mean, 4), "se": round(se, 4), "z": round(mean / se, 2) if se > 0 else None}


def recall_curve(ranks: np.ndarray, max_k: int) -> np.ndarray:
    """(max_k,) Recall@k for k = 1..max_k (element k-1 is Recall@k), for plots."""
    ranks = _check(ranks, max_k)
    if not ranks.size:
        return np.zeros(max_k)
    hits = np.bincount(np.minimum(ranks, max_k), minlength=max_k + 1)[:max_k]  # (max_k,) targets at each rank
    return np.cumsum(hits) / ranks.size


def _check(ranks: np.ndarray, k: int) -> np.ndarray:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    ranks = np.asarray(ranks)
    if ranks.ndim != 1:
        raise ValueError(f"ranks must be 1-D (one per user), got shape {ranks.shape}")
    if ranks.size and ranks.min() < 0:
        raise ValueError("ranks are 0-based and cannot be negative")
    return ranks


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values`` by the nearest-rank rule; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
