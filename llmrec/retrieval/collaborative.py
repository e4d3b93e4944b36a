"""The workspace's collaborative retriever: the sequential model fitted on its interaction log, served from Chroma.

``fit_collaborative`` trains ``SequentialRecommender`` on every user's history (time order, ties by log row), saves
it under ``<workspace>/collab/`` (``model.safetensors`` + ``manifest.json``: config, data hash, counts, validation
metrics, versions, time) and writes its item vectors into the ``collab`` collection of the workspace's vector store,
beside the text vectors. It is incremental: when the data hash and config match the saved manifest nothing is
trained. ``CollaborativeIndex`` answers requests: history → user vector → nearest item vectors in the store.

With ``[collaborative] ease`` on (the default, catalogs up to ``ease_max_items``), the served model is
``FusedCollaborative``: the sequential model and EASE (``llmrec.retrieval.ease``) as one, their vectors concatenated
with weights fitted on the validation holdout, so it is still one dot product per item; EASE's weights and the
fusion are saved beside the sequential model (``ease.safetensors``, ``ease.json``, ``fusion.json``).

The store searches by cosine, so item vectors go in through ``to_cosine_space`` (every item padded to one norm, the
query padded with 0): the cosine order of items is then exactly the model's dot-product order for each user.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from llmrec.config import LLMRecConfig
from llmrec.retrieval.stores.base import AnnSettings, VectorCollection, VectorStore
from llmrec.workspace import Workspace

COLLAB_COLLECTION = "collab"
MODEL_FOLDER = "collab"
# Chroma's defaults (M 16, ef 100) found 90% of the exact top-50 on a synthetic 3,000-item model; these find 99.8%
# there (tests/retrieval/test_collaborative.py) for about 1.5x the build time and the same query time.
COLLAB_ANN = AnnSettings(search_ef=400, construction_ef=400, max_neighbors=32)
FUSION_FILE = "fusion.json"
# EASE's λ/decay and the fusion weights are chosen on at most this many validation users (seeded sample): both
# score every item for every one of them, (users × items) matrices that must fit in memory on a big log.
EASE_TUNING_USERS = 3000


class FusedCollaborative:
    """The sequential model and EASE served as one: ``w_s · s_seq / σ_seq + w_e · s_ease / σ_ease`` per item, by
    concatenated vectors (``FusionRecommender``). Vocabulary, encoding, data hash and counts are the sequential
    model's; EASE is indexed by the same item codes."""

    def __init__(self, sequential, ease, weights: dict[str, float] | None = None,
                 scales: dict[str, float] | None = None):
        from llmrec.retrieval.fusion import FusionRecommender

        if ease.n_items != len(sequential.item_ids):
            raise ValueError(f"EASE covers {ease.n_items} items, the sequential model {len(sequential.item_ids)}")
        self.sequential, self.ease = sequential, ease
        self.fusion = FusionRecommender({"sequential": sequential, "ease": ease}, weights, scales)

    item_ids = property(lambda self: self.sequential.item_ids)
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

    def fit_weights(self, histories, targets) -> dict:
        """Fusion weights and scales on validation NDCG@10 (see ``FusionRecommender.fit_weights``)."""
        return self.fusion.fit_weights(histories, targets)

    def save(self, directory: str | Path) -> Path:
        directory = self.sequential.save(directory)
        self.ease.save(directory)
        (directory / FUSION_FILE).write_text(json.dumps(
            {"fused": True, "weights": self.fusion.weights, "scales": self.fusion.scales}, indent=1) + "\n",
            encoding="utf-8")
        return directory


def collab_ann(model) -> AnnSettings:
    """HNSW settings for the model's collection. EASE's vectors have a high intrinsic dimension (on ml-latest-small,
    EASE's 3,650-wide vectors alone: 41% of the exact top-50 found at ``COLLAB_ANN``, 98% with ``search_ef`` 4,000,
    99.96% with that and 64 neighbours per node, 11 ms a query), so a fused model is searched with ``search_ef`` of
    at least the catalog size and M = 64. EASE is only fused for catalogs of up to ``ease_max_items``, which bounds
    that cost."""
    if not isinstance(model, FusedCollaborative):
        return COLLAB_ANN
    n = len(model.item_ids)
    return AnnSettings(search_ef=max(COLLAB_ANN.search_ef, n), construction_ef=max(COLLAB_ANN.construction_ef,
                       min(n, 1000)), max_neighbors=64)


def load_collaborative(folder: Path):
    """The saved served model: ``FusedCollaborative`` when the folder holds a fusion, else the sequential model."""
    from llmrec.retrieval.ease import EASERecommender
    from llmrec.retrieval.sequential import SequentialRecommender

    sequential = SequentialRecommender.load(folder)
    fusion = _read_manifest(folder / FUSION_FILE)
    if not fusion or not fusion.get("fused"):
        return sequential
    return FusedCollaborative(sequential, EASERecommender.load(folder), fusion["weights"], fusion["scales"])


class FitReport(BaseModel):
    """What one ``llmrec fit`` (or the fit step of ingest) did."""

    status: Literal["trained", "unchanged", "reindexed", "skipped"]
    reason: str = ""
    model_dir: str | None = None
    users: int = 0
    items: int = 0
    interactions: int = 0
    data_hash: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        if self.status == "skipped":
            return f"no collaborative model: {self.reason}"
        text = (f"collaborative model {self.status} ({self.users:,} users, {self.items:,} items, "
                f"{self.interactions:,} interactions")
        if "valid_ndcg10" in self.metrics:
            text += (f"; validation NDCG@10 {self.metrics['valid_ndcg10']:.4f}, "
                     f"Recall@10 {self.metrics.get('valid_recall10', 0.0):.4f}")
            if "ease_weight" in self.metrics:
                text += (f" with EASE fused at weight {self.metrics['ease_weight']:.1f} (sequential model alone "
                         f"{self.metrics['sequential_valid_ndcg10']:.4f})")
        return text + f"; {self.seconds:.1f} s) in {self.model_dir}"


def workspace_sequences(workspace: Workspace) -> tuple[list[str], list[str], list[list[str]]]:
    """(item vocabulary, user ids, item-id sequences) from the workspace's interactions with catalog items.

    Sequences are in time order with ties by log row, as ``Workspace.history`` returns them; interactions with
    items missing from the catalog are dropped (retrieval can only return catalog items). The vocabulary is every
    interacted catalog item, numeric ids numerically (MovieLens) and others as text.
    """
    from llmrec.evaluation.splits import natural_item_key, user_sequences

    log = workspace.interaction_log().with_items(workspace.all_item_ids())
    sequences = user_sequences(log, tie_break="row")
    users = list(sequences)
    item_ids = sorted(log.present_items(), key=natural_item_key)
    return item_ids, users, [sequences[u] for u in users]


def data_hash(item_ids: Sequence[str], users: Sequence[str], sequences: Sequence[Sequence[str]]) -> str:
    """sha256 (16 hex digits) of the vocabulary and every user's sequence: equal hash, same training data."""
    digest = hashlib.sha256(json.dumps(list(item_ids)).encode())
    for user, seq in zip(users, sequences):
        digest.update(json.dumps([user, list(seq)]).encode())
    return digest.hexdigest()[:16]


def model_dir(workspace: Workspace) -> Path:
    return workspace.root / MODEL_FOLDER


def log_marks(workspace: Workspace) -> dict[str, int]:
    """High-water marks of what a fit could have seen: the log and the catalog only grow, so equal counts mean the
    training data is unchanged and a start-up check need not re-read the whole log."""
    return {"log_rows": workspace.interaction_count(), "catalog_items": workspace.item_count()}


def model_stamp(workspace: Workspace) -> tuple[int, int, int] | None:
    """Identity of the saved model's manifest (inode, size, mtime); a refit swaps the folder, so this changes."""
    from llmrec.retrieval.sequential import MANIFEST_FILE

    try:
        st = (model_dir(workspace) / MANIFEST_FILE).stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def fit_collaborative(workspace: Workspace, config: LLMRecConfig, epochs: int | None = None, force: bool = False,
                      progress: bool = True, log: Callable[[str], None] = lambda s: None,
                      store: VectorStore | None = None) -> FitReport:
    """Fit (or keep) the workspace's collaborative model and index its item vectors; see the module docstring.

    The caller holds the workspace write lock (``ingest`` does; ``llmrec fit`` takes it). ``epochs`` overrides
    ``collaborative.epochs`` for this run; ``force`` refits even when data and config are unchanged.
    """
    from llmrec.evaluation.metrics import ndcg_at_k, recall_at_k
    from llmrec.evaluation.protocols import full_ranking_ranks
    from llmrec.retrieval.sequential import MANIFEST_FILE, SequentialRecommender
    from llmrec.retrieval.stores import open_store

    t0 = time.perf_counter()
    item_ids, users, sequences = workspace_sequences(workspace)
    counts = {"users": len(users), "items": len(item_ids), "interactions": sum(len(s) for s in sequences)}
    if not any(len(s) >= 2 for s in sequences):
        return FitReport(status="skipped", reason="no user has two or more interactions with catalog items", **counts)
    settings = config.collaborative
    if epochs is not None:
        settings = settings.model_copy(update={"epochs": epochs})
    model_config = settings.model_settings()
    digest = data_hash(item_ids, users, sequences)
    folder = model_dir(workspace)
    _finish_interrupted_swap(folder, MANIFEST_FILE)
    store = store or open_store(config.store, workspace.root)

    want_ease = settings.ease and settings.validate_holdout and len(item_ids) <= settings.ease_max_items
    manifest = _read_manifest(folder / MANIFEST_FILE)
    if (not force and manifest is not None and manifest.get("data_hash") == digest
            and _saved_config(manifest) == model_config and (folder / FUSION_FILE).is_file() == want_ease):
        model = load_collaborative(folder)
        status = "unchanged"
        if not CollaborativeIndex(model, store.collection(COLLAB_COLLECTION, ann=collab_ann(model))).is_consistent():
            index_item_vectors(model, store)  # e.g. a fresh Chroma server, or a fit killed before indexing
            status = "reindexed"
        return FitReport(status=status, reason="data and config match the saved model", model_dir=str(folder),
                         data_hash=digest, metrics=_float_metrics(model.metrics), seconds=time.perf_counter() - t0,
                         **counts)

    log(f"fitting the collaborative model on {counts['interactions']:,} interactions of {counts['users']:,} users "
        f"({counts['items']:,} items)")
    model = SequentialRecommender(item_ids, model_config)
    codes = model.encode(sequences)
    valid = None
    train = codes
    if settings.validate_holdout:
        # Each user's newest item validates (LlamaRec's split); users with under 3 items keep everything for
        # training, since holding out one of two items would leave nothing to learn from.
        held = [j for j, seq in enumerate(codes) if len(seq) >= 3]
        if held:
            train = [seq[:-1] if len(seq) >= 3 else seq for seq in codes]
            valid = ([codes[j][:-1] for j in held], np.array([codes[j][-1] for j in held], dtype=np.int64))
    model.fit(train, valid, progress=progress)
    fused = None
    if valid is not None:
        ranks = full_ranking_ranks(model, valid[0], valid[1])
        model.metrics.update({"valid_users": len(valid[1]), "valid_ndcg10": ndcg_at_k(ranks, 10),
                              "valid_recall10": recall_at_k(ranks, 10), "valid_recall50": recall_at_k(ranks, 50)})
        if want_ease:
            from llmrec.retrieval.ease import EASERecommender

            tuning = valid
            if len(valid[1]) > EASE_TUNING_USERS:
                rows = np.sort(np.random.default_rng(settings.seed).choice(len(valid[1]), EASE_TUNING_USERS,
                                                                           replace=False))
                tuning = ([valid[0][j] for j in rows], valid[1][rows])
            log(f"fitting EASE on {len(item_ids):,} items and choosing λ and decay on {len(tuning[1]):,} "
                "validation users (one items × items inverse per λ)")
            ease = EASERecommender(len(item_ids)).fit(train)
            ease.select(*tuning)
            fused = FusedCollaborative(model, ease)
            search = fused.fit_weights(*tuning)
            ranks = full_ranking_ranks(fused, valid[0], valid[1])
            # valid_* now describe what is served (the fusion); the sequential model's own stay beside them
            model.metrics.update({**{f"sequential_{k}": model.metrics[k] for k in
                                     ("valid_ndcg10", "valid_recall10", "valid_recall50")},
                                  "valid_ndcg10": ndcg_at_k(ranks, 10), "valid_recall10": recall_at_k(ranks, 10),
                                  "valid_recall50": recall_at_k(ranks, 50), "ease_weight": search["weights"]["ease"],
                                  "ease_valid_ndcg10": ease.metrics["valid_NDCG@10"], "ease_l2": ease.config.l2,
                                  "ease_decay": ease.config.decay})
            log(f"EASE fused with weight {search['weights']['ease']:.1f} (λ {ease.config.l2:g}, decay "
                f"{ease.config.decay:g}): validation NDCG@10 {model.metrics['sequential_valid_ndcg10']:.4f} → "
                f"{model.metrics['valid_ndcg10']:.4f}")
        if settings.refit_on_all and model.metrics.get("best_epoch"):
            # The validated model never saw each user's newest item, which is the most telling one at serving
            # time: train again on everything for the chosen number of epochs and serve that. The validation
            # metrics above stay those of the held-out run (the only honest ones).
            epochs_chosen = int(model.metrics["best_epoch"])
            log(f"refitting on every interaction for the validated {epochs_chosen} epoch(s)")
            final = model.refit(codes, progress=progress)  # same schedule, same length, same validated mix
            final.metrics = {**model.metrics, "refit_on_all": True, "refit_epochs": epochs_chosen,
                             "refit_seconds": final.metrics["train_seconds"]}
            model, train = final, codes
            if fused is not None:  # EASE refitted on everything too, with its validated λ and decay
                from llmrec.retrieval.ease import EASERecommender

                ease = EASERecommender(len(item_ids), fused.ease.config).fit(codes)
                ease.metrics = fused.ease.metrics
                fused = FusedCollaborative(final, ease, fused.fusion.weights, fused.fusion.scales)
    if fused is not None:
        model = fused
    model.data_hash = digest
    model.counts = {**counts, "train_sequences": sum(1 for s in train if len(s) >= 2),
                    "valid_users": 0 if valid is None else len(valid[1]), **log_marks(workspace)}
    # Index first, then swap the folder in: a crash in between leaves vectors that do not match the saved model,
    # which ``is_consistent`` notices (the next fit re-indexes; asks fall back to text) instead of silently serving
    # the wrong neighbours.
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save(partial)
    if want_ease and fused is None:  # asked for but not possible (no user with 3+ items to validate on): say so
        (partial / FUSION_FILE).write_text(json.dumps({"fused": False, "reason": "no validation users"}) + "\n",
                                           encoding="utf-8")
    index_item_vectors(model, store)
    retired = folder.with_name(folder.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    if folder.exists():
        folder.rename(retired)
    partial.rename(folder)
    shutil.rmtree(retired, ignore_errors=True)
    return FitReport(status="trained", model_dir=str(folder), data_hash=digest, metrics=_float_metrics(model.metrics),
                     seconds=time.perf_counter() - t0, **counts)


def _finish_interrupted_swap(folder: Path, manifest_file: str) -> None:
    """Put back the model a fit killed mid-swap left under ``.partial`` (newer) or ``.old`` (previous).

    The swap renames ``collab`` to ``collab.old`` and then ``collab.partial`` to ``collab``; a kill between the two
    leaves no ``collab``, and refitting from scratch would throw away a finished model. A folder counts as complete
    when it holds the manifest, which ``save`` writes last. Runs under the workspace write lock, like the swap.
    """
    if (folder / manifest_file).is_file():
        return
    for source in (folder.with_name(folder.name + ".partial"), folder.with_name(folder.name + ".old")):
        if (source / manifest_file).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            source.rename(folder)
            return


def index_item_vectors(model, store: VectorStore) -> VectorCollection:
    """Replace the ``collab`` collection with the model's item vectors (cosine space, see the module docstring)."""
    from llmrec.retrieval.sequential import to_cosine_space

    # Dropped, not upserted over: a refit may change the vector width or the vocabulary.
    store.drop(COLLAB_COLLECTION)
    collection = store.collection(COLLAB_COLLECTION, space="cosine", ann=collab_ann(model))
    _, keys = to_cosine_space(np.zeros((0, model.vector_dim), dtype=np.float32), model.item_vectors())
    collection.upsert(model.item_ids, keys, metadatas=[{"model": model.data_hash or ""} for _ in model.item_ids])
    return collection


class CollaborativeIndex:
    """A fitted sequential model plus its item vectors in the store: a user's history → collaborative candidates."""

    def __init__(self, model, collection: VectorCollection):
        self.model = model
        self.collection = collection
        self.vocabulary = frozenset(model.item_ids)  # the items this model can rank; others are new to it

    @classmethod
    def open(cls, workspace: Workspace, store: VectorStore,
             warn: Callable[[str], None] = lambda s: None) -> "CollaborativeIndex | None":
        """The workspace's index, or None when it has no fitted model (or the store lost its vectors)."""
        from llmrec.retrieval.sequential import MANIFEST_FILE

        folder = model_dir(workspace)
        if not (folder / MANIFEST_FILE).is_file():
            return None
        index = cls(load_collaborative(folder), store.collection(COLLAB_COLLECTION, ann=COLLAB_ANN))
        marks = log_marks(workspace)
        if any(index.model.counts.get(k) != v for k, v in marks.items()):  # something was added: compare exactly
            item_ids, users, sequences = workspace_sequences(workspace)
            stale = index.model.data_hash != data_hash(item_ids, users, sequences)
            now = sum(len(s) for s in sequences)
        else:
            stale = False
        if stale:
            fitted = index.model.counts.get("interactions", "?")
            warn(f"the collaborative model was fitted on {fitted} interactions and the log now has {now}: new "
                 f"users and items get text-only candidates until `llmrec fit --workspace {workspace.root}`")
        if not index.is_consistent():
            warn(f"the collaborative vectors in the store do not match {folder}; using text retrieval only "
                 f"(run `llmrec fit --workspace {workspace.root}` to re-index)")
            return None
        return index

    def is_consistent(self) -> bool:
        """The store holds exactly this model's item vectors (count, and the first and last item's vector)."""
        ids = self.model.item_ids
        if self.collection.count() != len(ids):
            return False
        _, keys = self.key_vectors()
        stored = self.collection.get_vectors([ids[0], ids[-1]])
        return all(i in stored and np.allclose(stored[i], keys[c], atol=1e-5)
                   for i, c in ((ids[0], 0), (ids[-1], len(ids) - 1)))

    def key_vectors(self) -> tuple[list[str], np.ndarray]:
        """(item ids, (I, D+2) keys) exactly as indexed."""
        from llmrec.retrieval.sequential import to_cosine_space

        _, keys = to_cosine_space(np.zeros((0, self.model.vector_dim), dtype=np.float32), self.model.item_vectors())
        return self.model.item_ids, keys

    def query_vector(self, history_ids: Sequence[str]) -> np.ndarray | None:
        """(D+2,) query for a history of item ids (oldest first), or None when no history item is in the model."""
        codes = self.model.encode([list(history_ids)])[0]
        if not codes:
            return None
        user = self.model.user_vectors([codes])[0]  # (D+1,) = [h, 1]
        return np.append(user, np.float32(0.0)).astype(np.float32)  # to_cosine_space pads users with 0

    def query(self, history_ids: Sequence[str], n: int, exclude: set[str] | None = None) -> list[str]:
        """Up to ``n`` item ids by descending model score, served by the vector store; [] for unknown histories."""
        vector = self.query_vector(history_ids)
        if vector is None:
            return []
        try:
            return [nb.id for nb in self.collection.query(vector, n, exclude)]
        except Exception as e:  # noqa: BLE001 — chromadb raises unrelated types when a collection is gone
            # Another process refitted (dropping and recreating the collection under this handle) or the server is
            # down: this process's model still holds every item vector, so answer exactly rather than fail the ask.
            warnings.warn(f"collaborative vector search failed ({type(e).__name__}: {e}); searching the loaded model "
                          "exactly instead (restart to pick up a refitted model)", stacklevel=2)
            return self.exact(history_ids, n, exclude)

    def exact(self, history_ids: Sequence[str], n: int, exclude: set[str] | None = None) -> list[str]:
        """The same list by exhaustive dot products in numpy: the reference the store's recall is measured against."""
        vector = self.query_vector(history_ids)
        if vector is None:
            return []
        scores = self.model.item_vectors() @ vector[:-1]  # (I,) the model's logits
        exclude = exclude or set()
        order = np.argsort(-scores, kind="stable")
        return [self.model.item_ids[c] for c in order if self.model.item_ids[c] not in exclude][:n]


def _read_manifest(path: Path) -> dict | None:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _saved_config(manifest: dict):
    """The manifest's model config, fields added since it was written read as what they were then (None if invalid)."""
    from pydantic import ValidationError

    from llmrec.config import SequentialConfig

    try:
        return SequentialConfig.from_manifest(manifest.get("config") or {})
    except (ValidationError, TypeError):
        return None


def _float_metrics(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
