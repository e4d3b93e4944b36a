"""``SequentialRecommender``: train, query and persist the sequential model (any architecture) over a vocabulary.

Items are addressed by *codes* (``0 .. len(item_ids)-1``); ``item_ids[c]`` is the external id of code ``c`` and
row ``c`` of ``item_vectors()``. The network (``networks``) is trained by ``training`` and saved by ``manifest``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmrec.config import SequentialConfig
from llmrec.errors import TrainingError
from llmrec.retrieval.protocol import TrainingData
from llmrec.retrieval.sequential import manifest, training
from llmrec.retrieval.sequential.networks import NETWORKS, is_pair, left_pad


class SequentialRecommender:
    """The sequential model as a retrieval model: ``SequentialRecommender().fit(data, SequentialConfig(...))``."""

    def __init__(self) -> None:
        self.config: SequentialConfig | None = None
        self.item_ids: list[str] = []
        self.network: torch.nn.Module | None = None
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []  # one entry per epoch: loss, validation NDCG@10, seconds
        self.data_hash: str | None = None
        self.counts: dict[str, int] = {}  # what the model was fitted on (users, items, interactions...)
        self._code: dict[str, int] = {}

    @classmethod
    def initialised(cls, item_ids: Sequence[str], config: SequentialConfig | None = None) -> "SequentialRecommender":
        """The model over ``item_ids`` at its seeded initialisation, untrained: where ``fit`` starts from, and what
        ``load`` fills with saved weights."""
        model = cls()
        model._initialise(item_ids, config)
        return model

    def _initialise(self, item_ids: Sequence[str], config: SequentialConfig | None) -> None:
        # A subclass (the workspace's CollaborativeConfig) carries workspace settings the manifest must not keep.
        self.__init__()
        self.config = (config or SequentialConfig()).model_settings()
        self.item_ids = [str(i) for i in item_ids]
        if not self.item_ids:
            raise TrainingError("the item vocabulary is empty: there is nothing to recommend")
        if len(set(self.item_ids)) != len(self.item_ids):
            raise TrainingError("the item vocabulary has duplicate ids")
        self._code = {item: c for c, item in enumerate(self.item_ids)}
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's global RNG
            torch.manual_seed(self.config.seed)
            self.network = NETWORKS[self.config.architecture](len(self.item_ids), self.config)
        self.network.eval()

    # --- vocabulary ------------------------------------------------------------------------------------------------

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def encode(self, histories: Sequence[Sequence[str]]) -> list[list[int]]:
        """External item ids → codes; ids outside the vocabulary (items nobody interacted with) are dropped."""
        return [[self._code[i] for i in history if i in self._code] for history in histories]

    # --- training --------------------------------------------------------------------------------------------------

    def fit(self, data: TrainingData, config: SequentialConfig | None = None, *, progress: bool = False,
            on_epoch: Callable[[dict[str, float]], None] | None = None) -> "SequentialRecommender":
        """Train next-item prediction on ``data.sequences`` from the seeded initialisation, early-stopping on
        ``data.valid`` when there is one (see ``training.train``); ``config`` defaults to the model's current one,
        else ``SequentialConfig()``."""
        self._initialise(data.item_ids, config or self.config)
        training.train(self, data.sequences, data.valid, progress=progress, on_epoch=on_epoch)
        return self

    def refit(self, data: TrainingData, progress: bool = False) -> "SequentialRecommender":
        """A fresh model of this config trained on ``data`` (e.g. every interaction, held-out items included) for
        this validated run's best epoch count, on the same schedule, serving what validation chose here (the pair's
        mix): the refit has no held-out items left to choose with."""
        if not self.metrics.get("best_epoch"):
            raise TrainingError("refit needs a model fitted with validation (it replays the validated epoch count)")
        refitted = self.initialised(data.item_ids, self.config)
        training.train(refitted, data.sequences, None, progress=progress, stop_after=int(self.metrics["best_epoch"]))
        if is_pair(self.network):
            refitted.network.mix.copy_(self.network.mix)
        return refitted

    @contextmanager
    def only_member(self, index: int) -> Iterator[None]:
        """Inside, the pair scores as one member alone (0 = LRU, 1 = SASRec): its mix is set to that member and
        restored on exit. Each member was trained on its own loss, so this is how the pair's parts are measured."""
        if not is_pair(self.network):
            raise ValueError(f"only a lru+sasrec pair has members, not {self.config.architecture}")
        mix = self.network.mix.clone()
        self.network.mix.copy_(torch.eye(2, dtype=mix.dtype)[index])
        try:
            yield
        finally:
            self.network.mix.copy_(mix)

    # --- vectors ---------------------------------------------------------------------------------------------------

    @property
    def vector_dim(self) -> int:
        """Width of user and item vectors: the hidden width (``dim``; twice that for the pair) plus one coordinate
        carrying the item bias."""
        return self.network.width + 1

    @torch.no_grad()
    def user_vectors(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None,
                     batch_size: int = 256) -> np.ndarray:
        """(U, dim + 1) float32 query vectors ``[h, 1]`` from item-code histories (oldest first).

        ``h`` is the network's state at the newest item; only the newest ``max_len`` items count. The constant 1
        picks up the item bias stored in the keys' last coordinate. ``users`` is accepted for interface parity with
        transductive baselines and ignored: the vector depends on the history alone, so it works for users the
        model never saw. An empty history gives ``[0, ..., 0, 1]``: items ranked by bias alone (a popularity prior).
        """
        self.network.eval()
        out = np.zeros((len(histories), self.vector_dim), dtype=np.float32)
        out[:, -1] = 1.0
        for start in range(0, len(histories), batch_size):
            chunk = [np.asarray(h[-self.config.max_len:], dtype=np.int64) + 1
                     for h in histories[start:start + batch_size]]
            nonempty = [j for j, h in enumerate(chunk) if h.size]
            if not nonempty:
                continue
            hidden = self.network(left_pad([chunk[j] for j in nonempty]))  # (B, T, D)
            out[[start + j for j in nonempty], :-1] = hidden[:, -1].numpy()  # newest position summarises history
        return out

    @torch.no_grad()
    def item_vectors(self) -> np.ndarray:
        """(I, dim + 1) float32 key vectors ``[e_i, b_i]``; row c is ``item_ids[c]``.

        ``user_vectors(h) @ item_vectors().T`` equals the network's next-item logits exactly.
        """
        keys = torch.cat([self.network.item_table(), self.network.item_bias[:, None]], dim=1)  # (I, D+1)
        return keys.detach().numpy().astype(np.float32, copy=True)

    def score(self, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None) -> np.ndarray:
        """(U, I) next-item scores (unmasked logits)."""
        return self.user_vectors(histories, users) @ self.item_vectors().T

    # --- persistence -----------------------------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write ``model.safetensors`` and ``manifest.json`` (config, vocabulary, data hash, metrics, versions)."""
        return manifest.save_model(self, directory)

    @classmethod
    def load(cls, directory: str | Path) -> "SequentialRecommender":
        """Rebuild a saved model from safetensors weights (never pickle) and its manifest."""
        return manifest.load_model(cls, directory)
