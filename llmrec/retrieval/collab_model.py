"""The model a workspace serves for collaborative retrieval, and the steps that fit it.

``[collaborative]`` settings (``CollaborativeConfig``) pick it: the sequential model (``llmrec.retrieval.sequential``)
alone, or, with ``ease`` on (the default, catalogs up to ``ease_max_items``), ``FusedCollaborative``: the sequential
model and EASE (``llmrec.retrieval.ease``) as one, their vectors concatenated with weights fitted on the validation
holdout, so it is still one dot product per item. Fitting is a sequence of named steps (``fit_served``):
fit the sequential model with validation, fuse EASE, refit on every interaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from llmrec.config import CollaborativeConfig
from llmrec.errors import TrainingError
from llmrec.evaluation.metrics import ndcg_at_k, recall_at_k
from llmrec.retrieval.ease import EASERecommender
from llmrec.retrieval.fusion import FusionRecommender
from llmrec.retrieval.protocol import Holdout, TrainingData, holdout_ranks
from llmrec.retrieval.sequential import SequentialRecommender

FUSION_FILE = "fusion.json"
# EASE's λ/decay and the fusion weights are chosen on at most this many validation users (seeded sample): both
# score every item for every one of them, (users × items) matrices that must fit in memory on a big log.
EASE_TUNING_USERS = 3000
_VALID_KEYS = ("valid_ndcg10", "valid_recall10", "valid_recall50")


class FusedCollaborative:
    """The sequential model and EASE served as one: ``w_s · s_seq / σ_seq + w_e · s_ease / σ_ease`` per item, by
    concatenated vectors (``FusionRecommender``). Vocabulary, encoding, data hash and counts are the sequential
    model's; EASE is indexed by the same item codes. ``fit(data, config)`` fits both and the fusion on
    ``data.valid``; the constructor assembles models fitted before (a refit, a load)."""

    def __init__(self, sequential: SequentialRecommender | None = None, ease: EASERecommender | None = None,
                 weights: dict[str, float] | None = None, scales: dict[str, float] | None = None):
        self.config: CollaborativeConfig | None = None
        self.sequential, self.ease, self.fusion = sequential, ease, None
        if sequential is not None and ease is not None:
            self._assemble(weights, scales)

    def _assemble(self, weights: dict[str, float] | None, scales: dict[str, float] | None) -> None:
        if self.ease.n_items != len(self.sequential.item_ids):
            raise ValueError(f"EASE covers {self.ease.n_items} items, the sequential model "
                             f"{len(self.sequential.item_ids)}")
        self.fusion = FusionRecommender({"sequential": self.sequential, "ease": self.ease}, weights, scales)

    def fit(self, data: TrainingData, config: CollaborativeConfig | None = None, *, progress: bool = False,
            log: Callable[[str], None] = lambda s: None) -> "FusedCollaborative":
        """Fit the sequential model (early-stopping on ``data.valid``), EASE (λ and decay chosen on up to
        ``EASE_TUNING_USERS`` validation users) and the fusion weights on those same users."""
        if data.valid is None:
            raise TrainingError("the fused collaborative model chooses EASE's settings and the fusion weights on a "
                                "validation holdout; the data has none")
        self.config = config or self.config or CollaborativeConfig()
        self.sequential = fit_sequential(data, self.config, progress)
        tuning = data.valid.sample(EASE_TUNING_USERS, self.config.seed)
        log(f"fitting EASE on {data.n_items:,} items and choosing λ and decay on {len(tuning.targets):,} "
            "validation users (one items × items inverse per λ)")
        tuning_data = TrainingData(data.item_ids, data.sequences, tuning)
        self.ease = EASERecommender().fit(tuning_data)
        self._assemble(None, None)
        search = self.fusion.fit(tuning_data).search
        metrics = self.sequential.metrics
        # valid_* now describe what is served (the fusion); the sequential model's own stay beside them
        metrics.update({**{f"sequential_{k}": metrics[k] for k in _VALID_KEYS}, **_ranking_metrics(self, data.valid),
                        "ease_weight": search["weights"]["ease"], "ease_valid_ndcg10": self.ease.metrics[
                            "valid_NDCG@10"], "ease_l2": self.ease.config.l2, "ease_decay": self.ease.config.decay})
        log(f"EASE fused with weight {search['weights']['ease']:.1f} (λ {self.ease.config.l2:g}, decay "
            f"{self.ease.config.decay:g}): validation NDCG@10 {metrics['sequential_valid_ndcg10']:.4f} → "
            f"{metrics['valid_ndcg10']:.4f}")
        return self

    item_ids = property(lambda self: self.sequential.item_ids)
    n_items = property(lambda self: self.sequential.n_items)
    metrics = property(lambda self: self.sequential.metrics)
    data_hash = property(lambda self: self.sequential.data_hash,
                         lambda self, value: setattr(self.sequential, "data_hash", value))
    counts = property(lambda self: self.sequential.counts,
                      lambda self, value: setattr(self.sequential, "counts", value))

    def encode(self, histories):
        return self.sequential.encode(histories)

    @property
    def vector_dim(self) -> int:
        return self.sequential.vector_dim + self.ease.vector_dim

    def user_vectors(self, histories, users=None) -> np.ndarray:
        return self.fusion.user_vectors(histories, users).astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        return self.fusion.item_vectors().astype(np.float32)

    def save(self, directory: str | Path) -> Path:
        directory = self.sequential.save(directory)
        self.ease.save(directory)
        (directory / FUSION_FILE).write_text(json.dumps(
            {"fused": True, "weights": self.fusion.weights, "scales": self.fusion.scales}, indent=1) + "\n",
            encoding="utf-8")
        return directory


ServedModel = SequentialRecommender | FusedCollaborative


def fit_served(train: TrainingData, everything: TrainingData, settings: CollaborativeConfig, want_ease: bool,
               progress: bool = False, log: Callable[[str], None] = lambda s: None) -> ServedModel:
    """The served model: fitted on ``train`` (validating on its holdout when there is one), EASE fused when
    ``want_ease`` and a holdout exists, then refitted on ``everything`` when ``settings.refit_on_all``."""
    if want_ease and train.valid is not None:
        model: ServedModel = FusedCollaborative().fit(train, settings, progress=progress, log=log)
    else:
        model = fit_sequential(train, settings, progress)
    if settings.refit_on_all and model.metrics.get("best_epoch"):
        model = refit_on_all(model, everything, progress, log)
    return model


def fit_sequential(data: TrainingData, settings: CollaborativeConfig, progress: bool = False
                   ) -> SequentialRecommender:
    """The sequential model with early stopping on ``data.valid``, its validation metrics recorded."""
    model = SequentialRecommender().fit(data, settings.model_settings(), progress=progress)
    if data.valid is not None:
        model.metrics.update({"valid_users": len(data.valid.targets), **_ranking_metrics(model, data.valid)})
    return model


def refit_on_all(model: ServedModel, everything: TrainingData, progress: bool = False,
                 log: Callable[[str], None] = lambda s: None) -> ServedModel:
    """Train again on every interaction for the validated number of epochs (EASE with its validated λ and decay,
    the fusion with its validated weights) and serve that.

    The validated model never saw each user's newest item, which is the most telling one at serving time. The
    validation metrics stay those of the held-out run (the only honest ones).
    """
    sequential = model.sequential if isinstance(model, FusedCollaborative) else model
    epochs = int(sequential.metrics["best_epoch"])
    log(f"refitting on every interaction for the validated {epochs} epoch(s)")
    final = sequential.refit(everything, progress=progress)  # same schedule, same length, same validated mix
    final.metrics = {**sequential.metrics, "refit_on_all": True, "refit_epochs": epochs,
                     "refit_seconds": final.metrics["train_seconds"]}
    if not isinstance(model, FusedCollaborative):
        return final
    ease = EASERecommender().fit(everything, model.ease.config)
    ease.metrics = model.ease.metrics
    return FusedCollaborative(final, ease, model.fusion.weights, model.fusion.scales)


def load_collaborative(folder: Path) -> ServedModel:
    """The saved served model: ``FusedCollaborative`` when the folder holds a fusion, else the sequential model."""
    sequential = SequentialRecommender.load(folder)
    fusion = read_json(folder / FUSION_FILE)
    if not fusion or not fusion.get("fused"):
        return sequential
    return FusedCollaborative(sequential, EASERecommender.load(folder), fusion["weights"], fusion["scales"])


def read_json(path: Path) -> dict | None:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _ranking_metrics(model, holdout: Holdout) -> dict[str, float]:
    ranks = holdout_ranks(model, holdout)
    return {"valid_ndcg10": ndcg_at_k(ranks, 10), "valid_recall10": recall_at_k(ranks, 10),
            "valid_recall50": recall_at_k(ranks, 50)}
