"""Candidate lists from a fitted retrieval model, as the ranker protocol shows them to the LLM: the model's top-n
per history (history masked), and each list's collaborative evidence from a second model (its order of the list).

``ModelCandidates`` is the ranker protocol's ``CandidateSource`` for the one example builder
(``llmrec.training.examples``), which ``llmrec train`` uses with the workspace's retriever.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmrec.retrieval.protocol import VectorModel, masked_scores
from llmrec.workspace import StoredItem


def top_candidates(model: VectorModel, histories: Sequence[Sequence[int]], n: int, batch: int = 512) -> np.ndarray:
    """(U, n) the model's best n item codes per history, best first, history masked."""
    out = []
    for start in range(0, len(histories), batch):
        scores = masked_scores(model, histories[start:start + batch])
        out.append(np.argsort(-scores, axis=1, kind="stable")[:, :n])
    return np.concatenate(out) if out else np.zeros((0, n), dtype=np.int64)


def evidence_ranks(model: VectorModel, item_ids: Sequence[str], histories: Sequence[Sequence[int]],
                   lists: np.ndarray, batch: int = 512) -> list[dict[str, int]]:
    """Per list: item id -> 1-based rank of that candidate among the list by ``model``'s score for the history."""
    out = []
    for start in range(0, len(histories), batch):
        chunk = np.asarray(lists[start:start + batch])
        scores = np.take_along_axis(masked_scores(model, histories[start:start + batch]), chunk, axis=1)
        for codes, row in zip(chunk, scores):
            ranks = np.empty(len(codes), dtype=np.int64)
            ranks[np.argsort(-row, kind="stable")] = np.arange(1, len(codes) + 1)
            out.append({item_ids[c]: int(r) for c, r in zip(codes, ranks)})
    return out


class ModelCandidates:
    """A fitted retrieval model's top-n as candidates and an evidence model's order of each list as evidence, over
    one item vocabulary (histories and lists in item ids, as the example builder passes them)."""

    def __init__(self, retriever: VectorModel, evidence: VectorModel | None, item_ids: Sequence[str]):
        self.retriever, self.evidence_model, self.item_ids = retriever, evidence, list(item_ids)
        self.code = {item: c for c, item in enumerate(self.item_ids)}

    def _codes(self, sequences: Sequence[Sequence[str]]) -> list[list[int]]:
        return [[self.code[i] for i in seq] for seq in sequences]

    def candidates(self, histories: Sequence[Sequence[str]], n: int) -> list[list[str]]:
        return [[self.item_ids[c] for c in row] for row in top_candidates(self.retriever, self._codes(histories), n)]

    def evidence(self, histories: Sequence[Sequence[str]], lists: Sequence[Sequence[str]], n: int
                 ) -> list[dict[str, int] | None]:
        if self.evidence_model is None:
            return [None] * len(histories)
        return evidence_ranks(self.evidence_model, self.item_ids, self._codes(histories),
                              np.array(self._codes(lists), dtype=np.int64))


class CatalogItems:
    """Item id → the ``StoredItem`` the ranker renders (the item's card: title, year, genres, tags), for catalogs read
    from files rather than a workspace. Called with ids, returns them as a mapping (the example builder's lookup)."""

    def __init__(self, catalog):
        self.by_id = {item.id: item for item in catalog}
        self.cache: dict[str, StoredItem] = {}

    def one(self, item_id: str) -> StoredItem:
        if item_id not in self.cache:
            from llmrec.catalog.cards import render_card

            cat = self.by_id[item_id]
            self.cache[item_id] = StoredItem(id=cat.id, title=cat.title, item=cat, card=render_card(cat, [], []),
                                             card_hash="", embedded_hash=None, media=[])
        return self.cache[item_id]

    def __call__(self, item_ids: Sequence[str]) -> dict[str, StoredItem]:
        return {i: self.one(i) for i in item_ids}
