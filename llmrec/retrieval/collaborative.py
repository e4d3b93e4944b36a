"""The workspace's collaborative retriever: the served model fitted on its interaction log, served from Chroma.

``fit_collaborative`` runs named steps: read the log into coded sequences, keep the saved model when nothing changed,
hold out each user's newest item for validation, fit the served model (``llmrec.retrieval.collab_model``: the
sequential model, fused with EASE by default, refitted on everything), save it under ``<workspace>/collab/``
(``model.safetensors`` + ``manifest.json``: config, data hash, counts, validation metrics, versions, time; EASE's
weights and the fusion beside them) and write its item vectors into the ``collab`` collection of the workspace's
vector store, beside the text vectors. ``CollaborativeIndex`` answers requests: history → user vector → nearest
item vectors in the store.

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
from llmrec.retrieval.protocol import Holdout, TrainingData
from llmrec.retrieval.stores.base import AnnSettings, VectorCollection, VectorStore
from llmrec.workspace import Workspace

COLLAB_COLLECTION = "collab"
MODEL_FOLDER = "collab"
MANIFEST_FILE = "manifest.json"  # the sequential model's, written last by a save: a folder with it is complete
# Chroma's defaults (M 16, ef 100) found 90% of the exact top-50 on a synthetic 3,000-item model; these find 99.8%
# there (tests/retrieval/test_collaborative.py) for about 1.5x the build time and the same query time.
COLLAB_ANN = AnnSettings(search_ef=400, construction_ef=400, max_neighbors=32)


def collab_ann(model) -> AnnSettings:
    """HNSW settings for the model's collection. EASE's vectors have a high intrinsic dimension (on ml-latest-small,
    EASE's 3,650-wide vectors alone: 41% of the exact top-50 found at ``COLLAB_ANN``, 98% with ``search_ef`` 4,000,
    99.96% with that and 64 neighbours per node, 11 ms a query), so a fused model is searched with ``search_ef`` of
    at least the catalog size and M = 64. EASE is only fused for catalogs of up to ``ease_max_items``, which bounds
    that cost."""
    from llmrec.retrieval.collab_model import FusedCollaborative

    if not isinstance(model, FusedCollaborative):
        return COLLAB_ANN
    n = len(model.item_ids)
    return AnnSettings(search_ef=max(COLLAB_ANN.search_ef, n), construction_ef=max(COLLAB_ANN.construction_ef,
                       min(n, 1000)), max_neighbors=64)


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
    from llmrec.catalog.interactions import natural_item_key, user_sequences

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


def holdout_split(item_ids: Sequence[str], sequences: Sequence[Sequence[str]], validate: bool
                  ) -> tuple[TrainingData, TrainingData]:
    """(training data, every interaction) as coded sequences. With ``validate``, each user's newest item validates
    (LlamaRec's split); users with under 3 items keep everything for training, since holding out one of two items
    would leave nothing to learn from."""
    code = {item: c for c, item in enumerate(item_ids)}
    codes = [[code[i] for i in seq if i in code] for seq in sequences]
    everything = TrainingData.of(item_ids, codes)
    held = [j for j, seq in enumerate(codes) if len(seq) >= 3] if validate else []
    if not held:
        return everything, everything
    train = [seq[:-1] if len(seq) >= 3 else seq for seq in codes]
    valid = Holdout.of([codes[j][:-1] for j in held], [codes[j][-1] for j in held])
    return TrainingData.of(item_ids, train, valid), everything


def model_dir(workspace: Workspace) -> Path:
    return workspace.root / MODEL_FOLDER


def log_marks(workspace: Workspace) -> dict[str, int]:
    """High-water marks of what a fit could have seen: the log and the catalog only grow, so equal counts mean the
    training data is unchanged and a start-up check need not re-read the whole log."""
    return {"log_rows": workspace.interaction_count(), "catalog_items": workspace.item_count()}


def model_stamp(workspace: Workspace) -> tuple[int, int, int] | None:
    """Identity of the saved model's manifest (inode, size, mtime); a refit swaps the folder, so this changes."""
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
    from llmrec.retrieval.collab_model import FusedCollaborative, fit_served
    from llmrec.retrieval.stores import open_store

    t0 = time.perf_counter()
    item_ids, users, sequences = workspace_sequences(workspace)
    counts = {"users": len(users), "items": len(item_ids), "interactions": sum(len(s) for s in sequences)}
    if not any(len(s) >= 2 for s in sequences):
        return FitReport(status="skipped", reason="no user has two or more interactions with catalog items", **counts)
    settings = config.collaborative
    if epochs is not None:
        settings = settings.model_copy(update={"epochs": epochs})
    digest = data_hash(item_ids, users, sequences)
    folder = model_dir(workspace)
    _finish_interrupted_swap(folder)
    store = store or open_store(config.store, workspace.root)
    want_ease = settings.ease and settings.validate_holdout and len(item_ids) <= settings.ease_max_items
    if not force:
        kept = _keep_unchanged(folder, store, digest, settings.model_settings(), want_ease)
        if kept is not None:
            model, status = kept
            return FitReport(status=status, reason="data and config match the saved model", model_dir=str(folder),
                             data_hash=digest, metrics=_float_metrics(model.metrics),
                             seconds=time.perf_counter() - t0, **counts)

    log(f"fitting the collaborative model on {counts['interactions']:,} interactions of {counts['users']:,} users "
        f"({counts['items']:,} items)")
    train, everything = holdout_split(item_ids, sequences, settings.validate_holdout)
    model = fit_served(train, everything, settings, want_ease, progress=progress, log=log)
    trained_on = everything if model.metrics.get("refit_on_all") else train
    model.data_hash = digest
    model.counts = {**counts, "train_sequences": int((trained_on.sequences.lengths() >= 2).sum()),
                    "valid_users": 0 if train.valid is None else len(train.valid.targets), **log_marks(workspace)}
    _save_and_index(model, folder, store, no_fusion_reason=(
        "no validation users" if want_ease and not isinstance(model, FusedCollaborative) else None))
    return FitReport(status="trained", model_dir=str(folder), data_hash=digest, metrics=_float_metrics(model.metrics),
                     seconds=time.perf_counter() - t0, **counts)


def _keep_unchanged(folder: Path, store: VectorStore, digest: str, model_config, want_ease: bool):
    """(saved model, "unchanged" or "reindexed") when the saved model was fitted on this data with this config;
    re-indexes its vectors when the store lost them (e.g. a fresh Chroma server, a fit killed before indexing).
    None when a fit is needed."""
    from llmrec.retrieval.collab_model import FUSION_FILE, load_collaborative, read_json

    manifest = read_json(folder / MANIFEST_FILE)
    if (manifest is None or manifest.get("data_hash") != digest or _saved_config(manifest) != model_config
            or (folder / FUSION_FILE).is_file() != want_ease):
        return None
    model = load_collaborative(folder)
    if CollaborativeIndex(model, store.collection(COLLAB_COLLECTION, ann=collab_ann(model))).is_consistent():
        return model, "unchanged"
    index_item_vectors(model, store)
    return model, "reindexed"


def _save_and_index(model, folder: Path, store: VectorStore, no_fusion_reason: str | None) -> None:
    """Save to ``<folder>.partial``, index the vectors, then swap the folder in.

    Index first, then swap: a crash in between leaves vectors that do not match the saved model, which
    ``is_consistent`` notices (the next fit re-indexes; asks fall back to text) instead of silently serving the
    wrong neighbours. ``no_fusion_reason``: EASE was asked for but not possible (no user with 3+ items to validate
    on): the saved folder says so, so the next fit does not take the missing fusion for a changed config.
    """
    from llmrec.retrieval.collab_model import FUSION_FILE

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save(partial)
    if no_fusion_reason:
        (partial / FUSION_FILE).write_text(json.dumps({"fused": False, "reason": no_fusion_reason}) + "\n",
                                           encoding="utf-8")
    index_item_vectors(model, store)
    retired = folder.with_name(folder.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    if folder.exists():
        folder.rename(retired)
    partial.rename(folder)
    shutil.rmtree(retired, ignore_errors=True)


def _finish_interrupted_swap(folder: Path) -> None:
    """Put back the model a fit killed mid-swap left under ``.partial`` (newer) or ``.old`` (previous).

    The swap renames ``collab`` to ``collab.old`` and then ``collab.partial`` to ``collab``; a kill between the two
    leaves no ``collab``, and refitting from scratch would throw away a finished model. A folder counts as complete
    when it holds the manifest, which ``save`` writes last. Runs under the workspace write lock, like the swap.
    """
    if (folder / MANIFEST_FILE).is_file():
        return
    for source in (folder.with_name(folder.name + ".partial"), folder.with_name(folder.name + ".old")):
        if (source / MANIFEST_FILE).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            source.rename(folder)
            return


def to_cosine_space(user_vectors: np.ndarray, item_vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map dot-product search to cosine search without changing any user's ranking.

    Vector stores configured for cosine distance normalise vectors, which would drop the item norms the model's
    scores depend on. Append one coordinate: items get ``sqrt(M² - |v|²)`` (M = largest item norm) so every item has
    norm M, users get 0. Then cos(u', v') = u·v / (|u|·M): a positive per-user constant times the dot product, so
    each user's order of items is unchanged (Bachrach et al., 2014). Returns (U, D+1) and (I, D+1) float32.
    """
    items = np.asarray(item_vectors, dtype=np.float64)
    norms_sq = (items**2).sum(axis=1)  # (I,)
    extra = np.sqrt(np.maximum(norms_sq.max() - norms_sq, 0.0))[:, None]  # (I, 1)
    users = np.asarray(user_vectors, dtype=np.float64)
    return (np.hstack([users, np.zeros((len(users), 1))]).astype(np.float32),
            np.hstack([items, extra]).astype(np.float32))


def index_item_vectors(model, store: VectorStore) -> VectorCollection:
    """Replace the ``collab`` collection with the model's item vectors (cosine space, see the module docstring)."""
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
        folder = model_dir(workspace)
        if not (folder / MANIFEST_FILE).is_file():
            return None
        from llmrec.retrieval.collab_model import load_collaborative

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
