"""Content and multimodal-fusion baselines, scored through the same ``user_vectors · item_vectors`` path.

- ``ProfileRecommender``: a content-only model over fixed item vectors (sentence embeddings of item cards, or
  image vectors). A user is the recency-weighted mean of their history's vectors; it needs no training and scores
  new items on day one, which is what the text half of the served retriever relies on.
- ``FusionRecommender``: the classic early/late fusion design: one block per modality (text, image, collaborative),
  each scaled to unit score spread and weighted, concatenated into one vector per user and per item, so the dot
  product is ``Σ w_m · s_m(u, i) / σ_m``. The weights are fitted on validation NDCG@10 (``fit_weights``), which
  measures how much each modality is worth on the data at hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from llmrec.errors import TrainingError
from llmrec.evaluation.metrics import ndcg_at_k, target_ranks
from llmrec.retrieval.protocol import TrainingData, VectorModel


class ProfileConfig(BaseModel):
    """How a content profile weighs a history. Fixed, not tuned: the baseline should not be a fitted model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decay: float = Field(0.9, gt=0, le=1, description="weight of an item one step older (the newest weighs 1)")
    window: int = Field(50, ge=1, description="newest history items in the profile")


class ProfileRecommender:
    """Content-based scores: cosine between an item's vector and the user's recency-weighted history profile.

    ``vectors`` (I, D) are indexed by item code; rows of zeros (items without that modality, e.g. no poster) score
    0 and do not move a profile. There is nothing to learn: ``fit`` checks the vocabulary and takes the config.
    """

    def __init__(self, vectors: np.ndarray):
        vectors = np.asarray(vectors, dtype=np.float64)
        if vectors.ndim != 2 or not len(vectors):
            raise ValueError(f"item vectors must be a non-empty (items, dim) array, got shape {vectors.shape}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        self.config = ProfileConfig()

    @property
    def n_items(self) -> int:
        return len(self.vectors)

    def fit(self, data: TrainingData, config: ProfileConfig | None = None) -> "ProfileRecommender":
        if data.n_items != self.n_items:
            raise ValueError(f"{self.n_items} item vectors for a vocabulary of {data.n_items} items")
        self.config = config or self.config
        return self

    def user_vectors(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None) -> np.ndarray:
        out = np.zeros((len(histories), self.vectors.shape[1]))
        for row, history in enumerate(histories):
            recent = list(history)[-self.config.window:]
            if not recent:
                continue
            weights = self.config.decay ** np.arange(len(recent) - 1, -1, -1, dtype=np.float64)  # newest = 1
            profile = weights @ self.vectors[recent]
            norm = np.linalg.norm(profile)
            out[row] = profile / norm if norm > 0 else profile
        return out

    def item_vectors(self) -> np.ndarray:
        return self.vectors.copy()


class FusionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    step: float = Field(0.1, gt=0, le=1, description="spacing of the weight grid on the simplex")


class FusionRecommender:
    """Weighted concatenation of modality blocks, each a fitted model with ``user_vectors``/``item_vectors``.

    ``fit(data, config)`` chooses the weights on ``data.valid`` (the blocks are not refitted); ``weights`` and
    ``scales`` given here serve a fusion fitted before (a refit reuses the held-out run's).
    """

    def __init__(self, blocks: dict[str, VectorModel], weights: dict[str, float] | None = None,
                 scales: dict[str, float] | None = None):
        if not blocks:
            raise ValueError("fusion needs at least one block")
        self.blocks = dict(blocks)
        self.weights = {name: 1.0 / len(blocks) for name in blocks} if weights is None else dict(weights)
        self.scales = {name: 1.0 for name in blocks} if scales is None else dict(scales)
        self.config: FusionConfig | None = None
        self.search: dict = {}

    def fit(self, data: TrainingData, config: FusionConfig | None = None) -> "FusionRecommender":
        """Weights and scales on ``data.valid`` (``fit_weights``); the search record is kept in ``search``."""
        if data.valid is None:
            raise TrainingError("fusion weights are chosen on a validation holdout; the data has none")
        self.config = config or self.config or FusionConfig()
        valid = data.valid
        self.search = self.fit_weights(valid.histories, valid.targets, valid.users, step=self.config.step)
        return self

    def user_vectors(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None) -> np.ndarray:
        return np.concatenate([self.weights[n] * np.asarray(m.user_vectors(histories, users), dtype=np.float64)
                               for n, m in self.blocks.items()], axis=1)

    def item_vectors(self) -> np.ndarray:
        return np.concatenate([np.asarray(m.item_vectors(), dtype=np.float64) / self.scales[n]
                               for n, m in self.blocks.items()], axis=1)

    def fit_weights(self, histories: Sequence[Sequence[int]], targets: np.ndarray,
                    users: Sequence[int] | None = None, step: float = 0.1) -> dict:
        """Pick the weights on the simplex (grid ``step``) that maximise validation NDCG@10, full ranking with the
        history masked; set each block's scale to its score standard deviation first, so weights are comparable.

        Returns the search record: the scales, the chosen weights, their NDCG@10 and each single block's.
        """
        scores = {}
        for name, model in self.blocks.items():
            s = np.asarray(model.user_vectors(histories, users), dtype=np.float64) @ \
                np.asarray(model.item_vectors(), dtype=np.float64).T  # (U, I)
            self.scales[name] = float(s.std()) or 1.0
            scores[name] = s / self.scales[name]
        mask_rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
        mask_cols = np.fromiter((i for h in histories for i in h), dtype=np.int64, count=len(mask_rows))
        targets = np.asarray(targets, dtype=np.int64)

        def ndcg(weights: tuple[float, ...]) -> float:
            total = sum(w * scores[n] for n, w in zip(scores, weights))
            total[mask_rows, mask_cols] = -np.inf
            return ndcg_at_k(target_ranks(total, targets), 10)

        names = list(scores)
        steps = round(1 / step)
        grid = [tuple(c / steps for c in combo) for combo in itertools.product(range(steps + 1), repeat=len(names))
                if sum(combo) == steps]
        results = {combo: ndcg(combo) for combo in grid}
        best = max(grid, key=lambda combo: (results[combo], -sum(c > 0 for c in combo)))
        self.weights = dict(zip(names, best))
        single = {n: results[tuple(1.0 if m == n else 0.0 for m in names)] for n in names}
        return {"scales": dict(self.scales), "weights": dict(self.weights), "valid_NDCG@10": results[best],
                "single_block_valid_NDCG@10": single, "grid_points": len(grid)}
