"""Candidate retrieval: each signal produces a ranked list from the vector store, reciprocal-rank fusion merges them.

Signals: the free-text request (query embedding vs card embeddings), the user's taste in text (the mean card
embedding of their recent history), and, when the workspace has a fitted collaborative model, the user's taste in
behaviour (the sequential model's user vector searched against its item vectors: what people with similar histories
chose next). A brand-new item is reachable through its card text alone; a user with no history through the request
alone; a request steers the list through its own ranked list, whatever the user's history says.
"""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmrec.config import RetrievalConfig, VectorStoreConfig
from llmrec.errors import ConfigError, RequestError
from llmrec.retrieval.embedder import TextEmbedder
from llmrec.retrieval.stores.base import VectorCollection

if TYPE_CHECKING:
    from llmrec.request.conditions import RequestInterpretation
    from llmrec.retrieval.collaborative import CollaborativeIndex

TEXT_COLLECTION = "text"
TEXT_SPACE_META = "text_space"   # workspace meta key: the embedding space the text collection was filled in


def text_space(embedder: TextEmbedder, store: VectorStoreConfig, workspace_root: Path) -> str:
    """The embedding model's fingerprint and where its vectors live, as one comparable string.

    A card counts as embedded only in this space: a new model (even of the same dimension) or another store
    means every card must be embedded again, or queries would be compared with vectors of another model.
    """
    if store.resolved_backend == "chroma-server":
        where = store.url
    else:  # the default store moves with its workspace folder
        where = str(Path(store.path).expanduser().resolve()) if store.path else "<workspace>/chroma"
    return json.dumps({"model": embedder.space(), "store": [store.resolved_backend, where, store.collection]},
                      sort_keys=True)


def same_text_space(recorded: str, current: str) -> bool:
    """Same model files and same store; the model's display name does not count (a copy of it is the same model)."""
    was, now = json.loads(recorded), json.loads(current)
    return was["model"]["files"] == now["model"]["files"] and was["store"] == now["store"]


def check_text_space(recorded: str | None, current: str) -> None:
    """Refuse to query text vectors made in another embedding space (``llmrec ingest`` re-embeds them)."""
    if recorded is None or same_text_space(recorded, current):
        return  # a workspace from before spaces were recorded: its next ingest records one
    was, now = json.loads(recorded), json.loads(current)
    what = "embedding model" if was["model"]["files"] != now["model"]["files"] else "vector store"
    used = was["model"]["name"] if what == "embedding model" else " ".join(map(str, was["store"]))
    raise ConfigError(f"this workspace's text vectors were built with another {what} ({used}); run `llmrec "
                      "ingest` with the current config to re-embed the cards")


@dataclass
class Candidate:
    id: str
    score: float                                   # fused RRF score, higher is better
    sources: dict[str, int] = field(default_factory=dict)  # signal name -> 1-based rank in that signal's list


def reciprocal_rank_fusion(lists: dict[str, list[str]], weights: dict[str, float], k: int,
                           coverage: dict[str, Container[str]] | None = None) -> list[Candidate]:
    """Weighted RRF: score(d) = Σ_l w_l / (k + rank_l(d)). Ties keep the first list's order (stable).

    ``coverage[l]``, when given, is every item list ``l`` could rank at all (the collaborative model's vocabulary:
    it cannot know an item nobody interacted with). Each score is then divided by the total weight of the lists
    that cover the item, so a brand-new item competes on the lists that can see it instead of losing for being
    absent from one that cannot. Lists not in ``coverage`` cover every item; items covered by every list keep their
    relative order, since they share one divisor.
    """
    fused: dict[str, Candidate] = {}
    for name, ids in lists.items():
        w = weights.get(name, 1.0)
        for rank, item_id in enumerate(ids, start=1):
            c = fused.setdefault(item_id, Candidate(item_id, 0.0))
            c.score += w / (k + rank)
            c.sources[name] = rank
    if coverage:
        for c in fused.values():
            c.score /= sum(weights.get(name, 1.0) for name in lists
                           if name not in coverage or c.id in coverage[name]) or 1.0
    return sorted(fused.values(), key=lambda c: -c.score)


class CandidateRetriever:
    """Text, history and collaborative retrieval over one vector store, fused by weighted RRF.

    ``collab`` is the workspace's ``CollaborativeIndex`` (None when no model is fitted: text signals only).
    """

    def __init__(self, text: VectorCollection, embedder: TextEmbedder, config: RetrievalConfig,
                 collab: CollaborativeIndex | None = None):
        self.text = text
        self.embedder = embedder
        self.config = config
        self.collab = collab

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

    def retrieve(self, query: str | None, history_ids: list[str], exclude: set[str], n: int,
                 interpretation: RequestInterpretation | None = None, allowed: set[str] | None = None
                 ) -> list[Candidate]:
        """The ``n`` best candidates by two-level weighted RRF; ``sources`` gives each one's rank in every list.

        The user's taste lists (history text, collaborative) are fused first, ``1 : collab_weight``, with items the
        collaborative model has never seen scored on the text list alone (``coverage``); that one list meets the
        request's list at ``history_weight``. Fused flat, two taste lists would outvote the request two to one, and
        new items would sink below the user's usual ones for missing from a list that cannot contain them. With one
        taste list (no fitted model) this is exactly plain weighted RRF.

        ``interpretation`` (``llmrec.request``): its conditions filter every list, inside the Chroma query for the
        text lists (``where``) and through ``allowed`` (the ids satisfying them) for the collaborative ones; the
        request's list embeds only its soft text, pushed away from what it asked to avoid; each "like X" anchor adds
        the list of X's neighbours (text and collaborative) beside the request's. A plain interpretation (no
        condition, anchor or avoided words) retrieves exactly as the request text alone.
        """
        plain = interpretation is None or interpretation.is_plain()
        anchors = [] if plain else [a.item_id for a in interpretation.anchors]
        if not (query and query.strip()) and not history_ids and not anchors:
            raise RequestError("nothing to recommend from: give a request text, a known user, or a history")
        collab = self.collab  # one model for the whole call, even if a refit swaps it in meanwhile
        fetch = n * self.config.fetch_multiplier
        k = self.config.rrf_k
        where = None if plain else interpretation.where()
        if not plain:
            exclude = set(exclude) | set(anchors)  # "like X" asks for other items than X
        lists: dict[str, list[str]] = {}
        weights: dict[str, float] = {}
        if plain:
            if query and query.strip():
                qv = self.embedder.encode([query])[0]
                lists["query"] = [nb.id for nb in self.text.query(qv, fetch, exclude)]
                weights["query"] = self.config.query_weight
        else:
            request_list = self._request_list(interpretation, bool(history_ids or anchors), fetch, exclude, where)
            if request_list is not None:
                lists["query"], weights["query"] = request_list, self.config.query_weight
            if anchors:
                lists["anchor"] = self._anchor_list(anchors, collab, fetch, exclude, where, allowed)
                weights["anchor"] = self.config.query_weight
        taste: dict[str, list[str]] = {}
        taste_weights: dict[str, float] = {}
        if history_ids:
            profile = self.profile_vector(history_ids)
            if profile is not None:
                taste["history"] = [nb.id for nb in self.text.query(profile, fetch, exclude, where=where)]
                taste_weights["history"] = 1.0
            if collab is not None and self.config.collab_weight > 0:
                # Empty when no history item is in the model (the user only met items nobody else did).
                collab_list = self._collab_list(collab, history_ids, fetch, exclude, allowed)
                if collab_list:
                    taste["collab"] = collab_list
                    taste_weights["collab"] = self.config.collab_weight
        primary = {**lists, **taste}
        # The user's side meets the request at history_weight however it is made up; collab_weight only decides
        # how much the collaborative list counts against the history text list inside it.
        if len(taste) == 1:
            (name, ids), = taste.items()
            lists[name], weights[name] = ids, self.config.history_weight
        elif taste:
            # A new item can be found by its text but never by the collaborative model: see ``coverage``.
            coverage = {"collab": collab.vocabulary}
            lists["taste"] = [c.id for c in reciprocal_rank_fusion(taste, taste_weights, k, coverage)]
            weights["taste"] = self.config.history_weight
        fused = reciprocal_rank_fusion(lists, weights, k)[:n]
        ranks = {name: {item_id: r for r, item_id in enumerate(ids, start=1)} for name, ids in primary.items()}
        for c in fused:  # report ranks in the signals' own lists, not in the intermediate taste list
            c.sources = {name: r[c.id] for name, r in ranks.items() if c.id in r}
        return fused

    # ---- the lists a request with conditions adds -------------------------------------------------------------------
    def _request_list(self, interpretation: RequestInterpretation, has_other: bool, fetch: int, exclude: set[str],
                      where: dict | None) -> list[str] | None:
        """The request's own list: its soft text's neighbours among the items the conditions allow, pushed away from
        the avoided words. With no soft text ("before 1970"), the whole request orders the allowed items, unless
        another list (history, anchors) already does."""
        soft = interpretation.soft_text.strip()
        avoid = [a for a in interpretation.avoid if a.strip()]
        if not soft:
            if has_other:
                return None
            if not avoid:
                soft = interpretation.text.strip()
        if soft:
            vector = self.embedder.encode([soft])[0]
        else:  # only "nothing violent": the items farthest from what is to be avoided
            vector = -self.embedder.encode([" ".join(avoid)])[0]
            avoid = []
        if not avoid or self.config.avoid_weight == 0:
            return [nb.id for nb in self.text.query(vector, fetch, exclude, where=where)]
        # Fetch wider, then rescore: similarity to the request minus avoid_weight × similarity to what to avoid.
        found = self.text.query(vector, fetch * 2, exclude, where=where)
        away = self.embedder.encode(avoid)  # (A, D), unit vectors
        stored = self.text.get_vectors([nb.id for nb in found])
        scored = []
        for nb in found:
            v = stored.get(nb.id)
            penalty = float(np.max(away @ v)) if v is not None else 0.0
            scored.append((nb.similarity - self.config.avoid_weight * max(penalty, 0.0), nb.id))
        scored.sort(key=lambda x: -x[0])
        return [item_id for _, item_id in scored[:fetch]]

    def _anchor_list(self, anchors: list[str], collab: CollaborativeIndex | None, fetch: int, exclude: set[str],
                     where: dict | None, allowed: set[str] | None) -> list[str]:
        """Neighbours of the named items: by card text, and by what people who chose them chose (collaborative)."""
        lists: dict[str, list[str]] = {}
        vectors = self.text.get_vectors(anchors)
        for a in anchors:
            if a in vectors:
                lists[f"text:{a}"] = [nb.id for nb in self.text.query(vectors[a], fetch, exclude, where=where)]
            if collab is not None and a in collab.vocabulary:
                lists[f"collab:{a}"] = self._collab_list(collab, [a], fetch, exclude, allowed)
        return [c.id for c in reciprocal_rank_fusion(lists, {}, self.config.rrf_k)][:fetch]

    @staticmethod
    def _collab_list(collab: CollaborativeIndex, history_ids: list[str], fetch: int, exclude: set[str],
                     allowed: set[str] | None) -> list[str]:
        """The collaborative list; under conditions, the model's exact ranking restricted to the allowed items (a
        filtered top-``fetch`` from the store could leave nothing)."""
        if allowed is None:
            return collab.query(history_ids, fetch, exclude)
        ranked = collab.exact(history_ids, len(collab.vocabulary), exclude)
        return [i for i in ranked if i in allowed][:fetch]
