"""Ingest: catalog rows → media text → item cards → embeddings in the vector store, plus the interaction log and
the collaborative model fitted on it (refitted only when the log changed).

Incremental and resumable by construction: an item is skipped when the hash of its row, its media bytes and the
media/card settings is unchanged; each item is committed on its own; an item is marked embedded only after its vector
is in the store. Kill it at any point and the next run continues where it stopped, with no duplicates (vector ids
are item ids, upserted).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from llmrec.catalog.cards import CARD_TEMPLATE, card_hash, render_card
from llmrec.catalog.readers import read_catalog, read_interactions
from llmrec.catalog.interactions import InteractionLog
from llmrec.catalog.schema import CatalogItem
from llmrec.config import LLMRecConfig
from llmrec.errors import CatalogError, MediaError
from llmrec.prompts import default_library
from llmrec.workspace import Workspace

ProgressFactory = Callable[[Iterable, int, str], Iterable]


class IngestReport(BaseModel):
    """What one ingest run did; printed as a summary and returned by ``--json``."""

    workspace: str
    items_read: int = 0
    items_new: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    rows_rejected: list[str] = Field(default_factory=list)
    item_warnings: list[str] = Field(default_factory=list)
    media_described: int = 0
    media_from_cache: int = 0
    media_failed: list[str] = Field(default_factory=list)
    embedded: int = 0
    facets: list[str] = Field(default_factory=list, description="the facets requests can state conditions on, "
                              "learned from the catalog (llmrec.request)")
    facets_written: int = Field(0, description="vectors whose facet metadata was (re)written")
    interactions_added: int = 0
    interactions_unknown_items: int = 0
    collaborative: str | None = Field(None, description="what the collaborative-model step did (trained, unchanged,"
                                      " skipped and why); None when collaborative.fit_on_ingest is off")
    notices: list[str] = Field(default_factory=list)
    seconds: float = 0.0


def _no_progress(it: Iterable, total: int, desc: str) -> Iterable:
    return it


def load_source(catalog: Path, config: LLMRecConfig, posters: Path | None = None, details: Path | None = None,
                strict: bool = False) -> tuple[list[CatalogItem], InteractionLog, list[str]]:
    """Items (and interactions, for MovieLens folders) from a catalog file or a MovieLens folder."""
    catalog = Path(catalog)
    if catalog.is_dir():
        from llmrec.catalog.movielens import detect_movielens, read_movielens

        if detect_movielens(catalog) is None:
            raise CatalogError(f"{catalog} is a folder but not a MovieLens release (ml-latest-small, ml-100k, ml-1m);"
                               " pass a .jsonl or .csv catalog file")
        items, interactions = read_movielens(catalog, posters=posters, details=details)
        return items, interactions, []
    result = read_catalog(catalog, config.catalog, strict=strict)
    return result.items, InteractionLog.empty(), result.problems


class Ingestor:
    def __init__(self, workspace: Workspace, config: LLMRecConfig, progress: ProgressFactory = _no_progress,
                 log: Callable[[str], None] = lambda s: None):
        self.workspace = workspace
        self.config = config
        self.progress = progress
        self.log = log
        self._describer = None
        self._notices: set[str] = set()

    @property
    def describer(self):
        if self._describer is None:
            from llmrec.media import MediaDescriber

            self._describer = MediaDescriber(self.config.media)
        return self._describer

    def _settings_hash(self) -> str:
        lib = default_library()
        parts = [self.describer.signature("image"), self.describer.signature("audio"), lib.sha256(CARD_TEMPLATE)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def _media_text(self, path: Path, kind: str, roots: list[Path], report: IngestReport, where: str) -> dict:
        """What one media file says (from the cache when its bytes were described before), or its error
        (``llmrec.media.cache``, which the external audit uses too)."""
        from llmrec.media.cache import cached_media_text

        result, source = cached_media_text(self.describer, self.workspace, path, kind, roots,
                                           self.config.media.max_file_bytes)
        report.media_from_cache += source == "cache"
        report.media_described += source == "described"
        if result.get("error"):
            report.media_failed.append(f"{where}: {kind} {path}: {result['error']}")
        for notice in result.get("notices", []):
            if notice not in self._notices:
                self._notices.add(notice)
                report.notices.append(notice)
                self.log(notice)
        return result

    def _media_fingerprint(self, path: Path, roots: list[Path]) -> str:
        """The file's sha256 for the item's change check, or why it cannot be read (which changes when it is fixed)."""
        from llmrec.media import open_confined

        try:
            with open_confined(path, roots, self.config.media.max_file_bytes) as media:
                return media.sha256()
        except MediaError as e:
            return f"unreadable: {e}"

    def _ingest_item(self, item: CatalogItem, settings: str, existing: dict[str, str], report: IngestReport) -> None:
        from llmrec.media import allowed_roots

        roots = allowed_roots(item.media_root, self.config.media.roots)
        # Cheap pre-hash: row + media bytes + settings. Media hashing reads files but skips all model work.
        media_shas = [self._media_fingerprint(p, roots) for p in [*item.images, *item.audio]]
        row = item.model_dump(mode="json", exclude={"source", "warnings"})
        if row["media_root"] is None:
            del row["media_root"]  # items without media hash as they did before media roots were recorded
        content = hashlib.sha256(json.dumps([row, media_shas, settings], sort_keys=True).encode()).hexdigest()
        if existing.get(item.id) == content:
            report.items_unchanged += 1
            return
        where = item.source or item.id
        images = [self._media_text(p, "image", roots, report, where) for p in item.images]
        audio = [self._media_text(p, "audio", roots, report, where) for p in item.audio]
        card = render_card(item, images, audio)
        self.workspace.put_item(item, content, card, card_hash(card), images + audio)
        if item.id in existing:
            report.items_updated += 1
        else:
            report.items_new += 1

    def embed_pending(self, report: IngestReport) -> None:
        from llmrec.retrieval.embedder import TextEmbedder
        from llmrec.retrieval.retriever import TEXT_COLLECTION, TEXT_SPACE_META, same_text_space, text_space
        from llmrec.retrieval.stores import open_store

        embedder = TextEmbedder(self.config.embedding)
        space = text_space(embedder, self.config.store, self.workspace.root)
        recorded = self.workspace.get_meta(TEXT_SPACE_META)
        if recorded is None:
            self.workspace.set_meta(TEXT_SPACE_META, space)  # new workspace, or one from before spaces were recorded
        elif not same_text_space(recorded, space):
            # Only the collection this workspace filled itself is emptied; a newly configured store is only added to.
            if json.loads(recorded)["store"] == json.loads(space)["store"]:
                open_store(self.config.store, self.workspace.root).drop(TEXT_COLLECTION)
            self.workspace.restart_embedding(TEXT_SPACE_META, space)
            message = "the embedding model or vector store changed: embedding every card again"
            report.notices.append(message)
            self.log(message)
        pending = self.workspace.unembedded()
        if not pending:
            return
        from llmrec.request.facets import store_metadata

        collection = open_store(self.config.store, self.workspace.root).collection(TEXT_COLLECTION)
        titles = self.workspace.titles()
        facet_values = self.workspace.facet_values()
        batch = 256
        batches = range(0, len(pending), batch)
        for start in self.progress(batches, len(batches), "embedding"):
            chunk = pending[start:start + batch]
            vectors = embedder.encode([card for _, card, _ in chunk])
            # The facet values go in with the vector (an upsert replaces all metadata), so a request's conditions
            # can filter it from the moment it is searchable.
            metadatas = [{"title": titles.get(i, "")[:500], "card_hash": h,
                          **store_metadata(json.loads(facet_values.get(i, "{}")))} for i, _, h in chunk]
            collection.upsert([i for i, _, _ in chunk], vectors, documents=[c for _, c, _ in chunk],
                              metadatas=metadatas)
            self.workspace.mark_embedded([(i, h) for i, _, h in chunk])
            self.workspace.mark_facets_stored([(i, facet_values[i]) for i, _, _ in chunk if i in facet_values])
            report.embedded += len(chunk)

    def index_facets(self, report: IngestReport) -> None:
        """Learn the catalog's facets from every item in the workspace and store each item's values."""
        from llmrec.request.index import index_facets

        facets, _ = index_facets(self.workspace)
        report.facets = [_describe_facet(f) for f in facets.facets]

    def sync_facets(self, report: IngestReport) -> None:
        """Rewrite the facet metadata of vectors whose values changed (a new item can change a facet's type)."""
        from llmrec.request.index import sync_store
        from llmrec.retrieval.retriever import TEXT_COLLECTION
        from llmrec.retrieval.stores import open_store

        if self.workspace.unsynced_facets():
            collection = open_store(self.config.store, self.workspace.root).collection(TEXT_COLLECTION)
            report.facets_written += sync_store(self.workspace, collection, self.progress)

    def fit_collaborative(self, report: IngestReport) -> None:
        """(Re)fit the collaborative model when the interactions or its config changed; a no-op otherwise."""
        from llmrec.retrieval.collaborative import fit_collaborative

        result = fit_collaborative(self.workspace, self.config, progress=self.progress is not _no_progress,
                                   log=self.log)
        report.collaborative = result.summary()

    def run(self, items: list[CatalogItem], interactions: InteractionLog | None = None,
            rejected: list[str] | None = None) -> IngestReport:
        t0 = time.perf_counter()
        report = IngestReport(workspace=str(self.workspace.root), items_read=len(items),
                              rows_rejected=list(rejected or []))
        with self.workspace.write_lock():
            settings = self._settings_hash()
            existing = self.workspace.content_hashes()
            for item in self.progress(items, len(items), "items"):
                report.item_warnings.extend(f"{item.source}: {w}" for w in item.warnings)
                self._ingest_item(item, settings, existing, report)
            self.index_facets(report)
            self.embed_pending(report)
            self.sync_facets(report)
            if interactions:
                known = set(self.workspace.all_item_ids())
                report.interactions_unknown_items = len(interactions) - len(interactions.with_items(known))
                report.interactions_added = self.workspace.add_interactions(interactions, progress=self.progress)
            self.workspace.set_meta("config", json.dumps(self.config.model_dump(mode="json")))
            if self.config.collaborative.fit_on_ingest and self.workspace.interaction_count():
                self.fit_collaborative(report)
        report.seconds = round(time.perf_counter() - t0, 3)
        return report


def _describe_facet(facet) -> str:
    if facet.type == "numeric":
        return f"{facet.name} ({facet.unit}, {facet.low:g}–{facet.high:g})"
    shown = ", ".join(list(facet.values)[:4]) + (", …" if len(facet.values) > 4 else "")
    soft = "" if facet.hard else ", soft"
    return f"{facet.name} ({facet.type}{soft}: {len(facet.values)} values: {shown})"


def ingest(catalog: str | Path, workspace: str | Path | Workspace, interactions: str | Path | None = None,
           config: LLMRecConfig | None = None, posters: Path | None = None, details: Path | None = None,
           strict: bool = False, progress: ProgressFactory = _no_progress,
           log: Callable[[str], None] = lambda s: None, limit: int | None = None) -> IngestReport:
    """Ingest a catalog (JSONL/CSV file or MovieLens folder) and optionally an interaction log into a workspace."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=True)
    config = config or ws.load_config()
    items, events, rejected = load_source(Path(catalog), config, posters, details, strict)
    if limit is not None:
        items = items[:limit]
    if interactions is not None:
        result = read_interactions(interactions, strict=strict)
        events = events + result.interactions
        rejected = rejected + result.problems
    return Ingestor(ws, config, progress, log).run(items, events, rejected)
