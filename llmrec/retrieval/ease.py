"""EASE (Steck, 2019): a closed-form item-to-item linear model over the interaction log, queried by recency.

``B = argmin ||X − X B||² + λ||B||²`` with ``diag(B) = 0`` has the closed form ``B = −P / diag(P)``,
``P = (XᵀX + λI)⁻¹``, where X is the users × items indicator of the training sequences. It is fitted in seconds
(one I × I inverse), has no training randomness, and on ml-latest-small it scores about as well as the sequential
networks on validation, while erring differently: it reads co-occurrence over whole histories, they read order.

The query is what makes it sequential enough for next-item prediction: a user is their history's indicator with
each item weighted ``decay ** age`` (the newest item 1, the one before ``decay``, ...), so ``x_u · B[:, i]`` is
mostly what the last few items say about item i. Scores are ``user_vectors · item_vectors`` like every collaborative
model here (item vector = column ``B[:, i]``), so it fuses with them by concatenation (``FusionRecommender``).

Vectors are as wide as the catalog, and the inverse costs O(I³): meant for catalogs of up to about 10⁴ items.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from llmrec.evaluation.metrics import ndcg_at_k, target_ranks

MAX_ITEMS = 20_000  # I × I float64 is 3.2 GB here; beyond this EASE is the wrong tool


class EASEConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    l2: float = Field(300.0, gt=0, description="ridge penalty λ; larger = smoother, more popularity-like")
    decay: float = Field(0.7, gt=0, le=1, description="weight of an item one step older in the user query")
    window: int = Field(100, ge=1, description="newest history items in the query")


# Chosen per run on validation NDCG@10 (``EASERecommender.select``).
L2_GRID = (100.0, 300.0, 1000.0)
DECAY_GRID = (0.6, 0.7, 0.8, 0.9)


class EASERecommender:
    def __init__(self, n_items: int, config: EASEConfig | None = None):
        if n_items > MAX_ITEMS:
            raise ValueError(f"EASE inverts an items × items matrix: {n_items:,} items is more than {MAX_ITEMS:,}")
        self.n_items = n_items
        self.config = config or EASEConfig()
        self.gram: np.ndarray | None = None
        self.weights: np.ndarray | None = None  # B, (I, I), zero diagonal
        self.metrics: dict = {}

    def fit(self, sequences: Sequence[Sequence[int]]) -> "EASERecommender":
        x = np.zeros((len(sequences), self.n_items))
        for row, seq in enumerate(sequences):
            x[row, list(seq)] = 1.0
        self.gram = x.T @ x
        self.weights = self._solve(self.config.l2)
        return self

    def _solve(self, l2: float) -> np.ndarray:
        p = np.linalg.inv(self.gram + l2 * np.eye(self.n_items))
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        return b

    def select(self, histories: Sequence[Sequence[int]], targets: np.ndarray,
               l2_grid: Sequence[float] = L2_GRID, decay_grid: Sequence[float] = DECAY_GRID) -> dict:
        """Keep the (λ, decay) with the best validation NDCG@10, full ranking with the history masked (the fitted
        Gram matrix is reused: one inverse per λ). Returns the search record, also kept in ``metrics``."""
        if self.gram is None:
            raise ValueError("fit the model before selecting its settings")
        targets = np.asarray(targets, dtype=np.int64)
        results: dict[tuple[float, float], float] = {}
        best_weights, best = None, None
        for l2 in l2_grid:
            self.weights = self._solve(l2)
            for decay in decay_grid:
                self.config = self.config.model_copy(update={"l2": l2, "decay": decay})
                scores = self.user_vectors(histories) @ self.weights
                for row, history in enumerate(histories):
                    scores[row, list(history)] = -np.inf
                results[(l2, decay)] = ndcg_at_k(target_ranks(scores, targets), 10)
                if best is None or results[(l2, decay)] > results[best]:
                    best, best_weights = (l2, decay), self.weights
        self.config = self.config.model_copy(update={"l2": best[0], "decay": best[1]})
        self.weights = best_weights
        self.metrics = {"l2": best[0], "decay": best[1], "valid_NDCG@10": results[best],
                        "grid": {f"l2={l}, decay={d}": round(v, 4) for (l, d), v in results.items()}}
        return self.metrics

    def user_vectors(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None) -> np.ndarray:
        out = np.zeros((len(histories), self.n_items))
        for row, history in enumerate(histories):
            recent = list(history)[-self.config.window:]
            if recent:  # older repeats first, so an item keeps its newest (largest) weight
                np.maximum.at(out[row], recent, self.config.decay ** np.arange(len(recent) - 1, -1, -1.0))
        return out

    def item_vectors(self) -> np.ndarray:
        if self.weights is None:
            raise ValueError("EASE model is not fitted")
        return self.weights.T.copy()

