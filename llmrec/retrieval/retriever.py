"""Candidate retrieval: each signal produces a ranked list from the vector store, reciprocal-rank fusion merges them.

Signals: the free-text request (query embedding vs card embeddings) and the user's taste (the mean card embedding of
their recent history). A brand-new item is reachable through its card text alone; a user with no history through the
request alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from llmrec.config import RetrievalConfig
from llmrec.errors import RequestError
from llmrec.retrieval.embedder import TextEmbedder
from llmrec.retrieval.stores.base import VectorCollection

TEXT_COLLECTION = "text"


@dataclass
class Candidate:
    id: str
    score: float                                   # fused RRF score, higher is better
    sources: dict[str, int] = field(default_factory=dict)  # signal name -> 1-based rank in that signal's list


def reciprocal_rank_fusion(lists: dict[str, list[str]], weights: dict[str, float], k: int) -> list[Candidate]:
    """Weighted RRF: score(d) = Σ_l w_l / (k + rank_l(d)). Ties keep the first list's order (stable)."""
    fused: dict[str, Candidate] = {}
    for name, ids in lists.items():
        w = weights.get(name, 1.0)
        for rank, item_id in enumerate(ids, start=1):
            c = fused.setdefault(item_id, Candidate(item_id, 0.0))
            c.score += w / (k + rank)
            c.sources[name] = rank
    return sorted(fused.values(), key=lambda c: -c.score)


class CandidateRetriever:
    """Text + history retrieval over one vector store."""

    def __init__(self, text: VectorCollection, embedder: TextEmbedder, config: RetrievalConfig):
        self.text = text
        self.embedder = embedder
        self.config = config

    def profile_vector(self, history_ids: list[str]) -> np.ndarray | None:
        """Mean embedding of the most recent history items (recency-weighted), or None when none are indexed."""
        recent = history_ids[-self.config.history_items:]
        vectors = self.text.get_vectors(recent)
        rows = [(i, vectors[h]) for i, h in enumerate(recent) if h in vectors]
        if not rows:
            return None
        # Later items weigh more: taste drifts, and the last few interactions predict the next best.
        weights = np.array([0.9 ** (len(recent) - 1 - i) for i, _ in rows], dtype=np.float32)
        profile = (np.stack([v for _, v in rows]) * weights[:, None]).sum(0)
        norm = float(np.linalg.norm(profile))
        return profile / norm if norm > 0 else None

    def retrieve(self, query: str | None, history_ids: list[str], exclude: set[str], n: int) -> list[Candidate]:
        if not (query and query.strip()) and not history_ids:
            raise RequestError("nothing to recommend from: give a request text, a known user, or a history")
        fetch = n * self.config.fetch_multiplier
        lists: dict[str, list[str]] = {}
        weights: dict[str, float] = {}
        if query and query.strip():
            qv = self.embedder.encode([query])[0]
            lists["query"] = [nb.id for nb in self.text.query(qv, fetch, exclude)]
            weights["query"] = self.config.query_weight
        if history_ids:
            profile = self.profile_vector(history_ids)
            if profile is not None:
                lists["history"] = [nb.id for nb in self.text.query(profile, fetch, exclude)]
                weights["history"] = self.config.history_weight
        return reciprocal_rank_fusion(lists, weights, self.config.rrf_k)[:n]
