"""EASE (Steck, 2019): a closed-form item-to-item linear model over the interaction log, queried by recency.

``B = argmin ||X − X B||² + λ||B||²`` with ``diag(B) = 0`` has the closed form ``B = −P / diag(P)``,
``P = (XᵀX + λI)⁻¹``, where X is the users × items indicator of the training sequences. It is fitted in seconds
(one I × I inverse), has no training randomness, and on ml-latest-small it scores about as well as the sequential
networks on validation, while erring differently: it reads co-occurrence over whole histories, they read order.

The query is what makes it sequential enough for next-item prediction: a user is their history's indicator with
each item weighted ``decay ** age`` (the newest item 1, the one before ``decay``, ...), so ``x_u · B[:, i]`` is
mostly what the last few items say about item i. Scores are ``user_vectors · item_vectors`` like every collaborative
model here (item vector = column ``B[:, i]``), so it fuses with them by concatenation (``FusionRecommender``).

Vectors are as wide as the catalog (columns of B), or a rank-r factorisation of B above ``rank`` items; either way
their intrinsic dimension is high, so the vector store searches them with near-exhaustive HNSW settings
(``llmrec.retrieval.collaborative.collab_ann``). The inverse costs O(I³): the workspace fuses it for catalogs of up to
``[collaborative] ease_max_items`` (5,000) items.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from llmrec.evaluation.metrics import ndcg_at_k, target_ranks
from llmrec.retrieval.protocol import Holdout, TrainingData

MAX_ITEMS = 20_000  # I × I float64 is 3.2 GB here; beyond this EASE is the wrong tool
WEIGHTS_FILE = "ease.safetensors"
CONFIG_FILE = "ease.json"


class EASEConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    l2: float = Field(300.0, gt=0, description="ridge penalty λ; larger = smoother, more popularity-like")
    decay: float = Field(0.7, gt=0, le=1, description="weight of an item one step older in the user query")
    window: int = Field(100, ge=1, description="newest history items in the query")
    rank: int | None = Field(4096, ge=1, description="catalogs with more items serve B as a rank-r factorisation "
                             "(r-wide vectors); None or r >= items: B itself. On ml-latest-small rank 512 lost 1.5% "
                             "of test Recall@10 of the fusion (eval/README.md), so smaller catalogs keep B exact")


# Chosen per run on validation NDCG@10 (``EASERecommender.select``).
L2_GRID = (100.0, 300.0, 1000.0)
DECAY_GRID = (0.6, 0.7, 0.8, 0.9)


class EASERecommender:
    """EASE as a retrieval model: ``EASERecommender().fit(data, EASEConfig(...))``. With a validation holdout in
    ``data``, λ and decay are chosen on it (``select``); without one, the config's are used (a refit)."""

    def __init__(self) -> None:
        self.config: EASEConfig | None = None
        self.n_items = 0
        self.gram: np.ndarray | None = None
        self.weights: np.ndarray | None = None  # B, (I, I), zero diagonal
        self.factors: tuple[np.ndarray, np.ndarray] | None = None  # (P, Q), B ≈ P Qᵀ, when rank < items
        self.metrics: dict = {}

    def fit(self, data: TrainingData, config: EASEConfig | None = None, *, chunk: int = 2048) -> "EASERecommender":
        if data.n_items > MAX_ITEMS:
            raise ValueError(f"EASE inverts an items × items matrix: {data.n_items:,} items is more than "
                             f"{MAX_ITEMS:,}")
        self.config = config or self.config or EASEConfig()
        self.n_items = data.n_items
        # XᵀX accumulated over user chunks: memory is items² + chunk × items, whatever the number of users
        self.gram = np.zeros((self.n_items, self.n_items))
        sequences = data.sequences
        for start in range(0, len(sequences), chunk):
            x = np.zeros((len(sequences[start:start + chunk]), self.n_items))
            for row, seq in enumerate(sequences[start:start + chunk]):
                x[row, list(seq)] = 1.0
            self.gram += x.T @ x
        if data.valid is not None:
            self.select(data.valid)  # solves and factorises at the chosen λ
        else:
            self.weights = self._solve(self.config.l2)
            self._factorise()
        return self

    def _factorise(self) -> None:
        """B ≈ P Qᵀ with P = U_r Σ_r, Q = V_r: a randomised truncated SVD (seeded; four power iterations, each
        re-orthonormalised, since B's spectrum decays slowly), O(I² r) instead of a full SVD's O(I³)."""
        r = self.config.rank
        if r is None or r >= self.n_items:
            self.factors = None
            return
        b = self.weights
        rng = np.random.default_rng(0)
        basis, _ = np.linalg.qr(b @ rng.standard_normal((self.n_items, min(self.n_items, r + 32))))
        for _ in range(4):
            basis, _ = np.linalg.qr(b.T @ basis)
            basis, _ = np.linalg.qr(b @ basis)
        u, sigma, vt = np.linalg.svd(basis.T @ b, full_matrices=False)
        self.factors = ((basis @ u[:, :r]) * sigma[:r], vt[:r].T.copy())

    def _solve(self, l2: float) -> np.ndarray:
        p = np.linalg.inv(self.gram + l2 * np.eye(self.n_items))
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        return b

    def select(self, holdout: Holdout, l2_grid: Sequence[float] = L2_GRID,
               decay_grid: Sequence[float] = DECAY_GRID) -> dict:
        """Keep the (λ, decay) with the best validation NDCG@10, full ranking with the history masked (the fitted
        Gram matrix is reused: one inverse per λ). Returns the search record, also kept in ``metrics``."""
        if self.gram is None:
            raise ValueError("fit the model before selecting its settings")
        histories, targets = holdout.histories, holdout.targets
        results: dict[tuple[float, float], float] = {}
        best_weights, best = None, None
        for l2 in l2_grid:
            self.weights, self.factors = self._solve(l2), None  # chosen on B itself; factorised once, below
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
        self._factorise()
        self.metrics = {"l2": best[0], "decay": best[1], "valid_NDCG@10": results[best],
                        "grid": {f"l2={l}, decay={d}": round(v, 4) for (l, d), v in results.items()}}
        return self.metrics

    def user_vectors(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None) -> np.ndarray:
        out = np.zeros((len(histories), self.n_items))
        for row, history in enumerate(histories):
            recent = list(history)[-self.config.window:]
            if recent:  # older repeats first, so an item keeps its newest (largest) weight
                np.maximum.at(out[row], recent, self.config.decay ** np.arange(len(recent) - 1, -1, -1.0))
        return out if self.factors is None else out @ self.factors[0]

    @property
    def vector_dim(self) -> int:
        """Width of user and item vectors: the catalog, or the factorisation's rank."""
        return self.n_items if self.factors is None else self.factors[1].shape[1]

    def item_vectors(self) -> np.ndarray:
        """(I, I) columns of B, or (I, r) rows of Q when factorised; ``user_vectors · item_vectors`` = x B (≈)."""
        if self.weights is None and self.factors is None:
            raise ValueError("EASE model is not fitted")
        return (self.weights.T if self.factors is None else self.factors[1]).copy()

    def save(self, directory: str | Path) -> None:
        """``ease.safetensors`` (B, or its factors, as float32) and ``ease.json`` (config, validation record): no pickle."""
        from safetensors.numpy import save_file

        if self.weights is None and self.factors is None:
            raise ValueError("EASE model is not fitted")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = ({"weights": self.weights} if self.factors is None else  # only what serving reads
                   {"user_factors": self.factors[0], "item_factors": self.factors[1]})
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
                  str(directory / WEIGHTS_FILE))
        (directory / CONFIG_FILE).write_text(json.dumps({"config": self.config.model_dump(), "metrics": self.metrics},
                                                        indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> "EASERecommender":
        from safetensors.numpy import load_file

        directory = Path(directory)
        saved = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        tensors = {k: v.astype(np.float64) for k, v in load_file(str(directory / WEIGHTS_FILE)).items()}
        config = EASEConfig.model_validate(saved["config"])
        if "weights" in tensors:
            weights = tensors["weights"]
            if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
                raise ValueError(f"{directory / WEIGHTS_FILE}: EASE weights must be square, got {weights.shape}")
            model = cls()
            model.n_items, model.config, model.weights = len(weights), config, weights
        else:
            p, q = tensors["user_factors"], tensors["item_factors"]
            if p.shape != q.shape or p.ndim != 2:
                raise ValueError(f"{directory / WEIGHTS_FILE}: EASE factors must have one shape, got {p.shape}, "
                                 f"{q.shape}")
            model = cls()
            model.n_items, model.config, model.factors = len(p), config, (p, q)
        model.metrics = dict(saved.get("metrics") or {})
        return model
