"""The workspace: one folder holding everything a catalog became (items, cards, media text, interactions, vectors).

State lives in SQLite (WAL) so a crash or Ctrl-C mid-ingest loses at most the row being written, readers never see a
half-written item, and re-ingest can skip what has not changed. Writers take a file lock: two ingests into one
workspace wait for each other instead of interleaving.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from llmrec.catalog.interactions import InteractionLog
from llmrec.catalog.schema import CatalogItem, Interaction
from llmrec.config import LLMRecConfig
from llmrec.errors import UnknownUserError, WorkspaceError

SCHEMA_VERSION = 1
CONFIG_FILE = "llmrec.toml"  # a workspace's own settings, beside its database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    item_json TEXT NOT NULL,      -- the validated CatalogItem
    content_hash TEXT NOT NULL,   -- hash of the row and of its media files' bytes: unchanged means skip
    card TEXT NOT NULL,           -- the rendered item card (what is embedded and shown to the LLM)
    card_hash TEXT NOT NULL,
    embedded_hash TEXT,           -- card_hash that is in the vector store; NULL/different means (re-)embed
    media_json TEXT NOT NULL,     -- list of MediaText, one per media file
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS media_cache (
    sha256 TEXT NOT NULL,
    signature TEXT NOT NULL,      -- what produced it (enabled steps, models); a config change means recompute
    kind TEXT NOT NULL,
    result_json TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (sha256, signature)
);
CREATE TABLE IF NOT EXISTS interactions (
    user_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    timestamp REAL NOT NULL,
    rating REAL,
    row INTEGER NOT NULL,         -- original file order, for honest tie-breaking
    PRIMARY KEY (user_id, item_id, timestamp)
);
CREATE INDEX IF NOT EXISTS interactions_user ON interactions(user_id, timestamp, row);
-- who chose an item (the justifier's co-occurrence counts): without it each count scanned the whole log, 8 ms a
-- candidate on ml-latest-small. Covering, so the count never reads the table. Existing workspaces get it on open.
CREATE INDEX IF NOT EXISTS interactions_item ON interactions(item_id, user_id, rating);
CREATE TABLE IF NOT EXISTS item_facets (
    id TEXT PRIMARY KEY,
    values_json TEXT NOT NULL,    -- the item's facet values (llmrec.request.facets.item_values)
    stored_json TEXT              -- the values its vector's metadata holds; NULL/different means update the store
);
"""


@dataclass(frozen=True)
class StoredItem:
    """An item as the workspace holds it after ingest."""

    id: str
    title: str
    item: CatalogItem
    card: str
    card_hash: str
    embedded_hash: str | None
    media: list[dict]


class Workspace:
    """Paths and durable state of one workspace folder."""

    def __init__(self, root: str | Path, create: bool = False):
        self.root = Path(root).expanduser().resolve()
        if not self.root.exists():
            if not create:
                raise WorkspaceError(f"workspace {self.root} does not exist; create it with `llmrec ingest CATALOG "
                                     f"--workspace {self.root}` (or `llmrec demo`)")
            self.root.mkdir(parents=True, exist_ok=True)  # two first ingests may race to create it
        elif not self.root.is_dir():
            raise WorkspaceError(f"workspace {self.root} is not a folder")
        elif not create and not self.db_path.is_file():
            # Reading commands must not leave a database in whatever folder was named by mistake.
            raise WorkspaceError(f"{self.root} is not an llmrec workspace (no state.sqlite); create one with "
                                 f"`llmrec ingest CATALOG --workspace {self.root}` (or `llmrec demo`)")
        self._local = threading.local()
        self.connect().db.executescript(_SCHEMA)  # executescript manages its own transaction
        with self.connect() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        version = int(self.get_meta("schema_version") or SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise WorkspaceError(f"workspace {self.root} has schema version {version}; this llmrec reads "
                                 f"{SCHEMA_VERSION}: re-ingest into a new workspace")

    # ---- paths -------------------------------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / "state.sqlite"

    @property
    def chroma_path(self) -> Path:
        return self.root / "chroma"

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    def load_config(self) -> LLMRecConfig:
        """The workspace's own ``llmrec.toml`` when present, else defaults."""
        return self.config_of(self.root)

    @staticmethod
    def config_of(root: str | Path) -> LLMRecConfig:
        """A workspace folder's config without opening its database: commands that only need the settings (``llm
        serve``) also work on a folder holding just ``llmrec.toml``."""
        root = Path(root).expanduser()
        if not root.is_dir():
            raise WorkspaceError(f"workspace {root} does not exist or is not a folder")
        path = root / CONFIG_FILE
        return LLMRecConfig.from_toml(path) if path.is_file() else LLMRecConfig()

    # ---- connections and locking -------------------------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        """A per-thread connection (sqlite3 connections must not cross threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.db_path, timeout=60, isolation_level=None, check_same_thread=True)
            db.execute("PRAGMA busy_timeout=60000")
            _enable_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return _Tx(db)

    @contextmanager
    def write_lock(self, timeout: float = 600) -> Iterator[None]:
        """Exclusive writer lock across processes (ingest, fit); readers are never blocked."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.root / ".write.lock"))
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise WorkspaceError(f"another llmrec process is writing to {self.root}; wait for it to finish") from None
        try:
            yield
        finally:
            lock.release()

    # ---- meta --------------------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.connect().db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.connect() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # ---- media cache -------------------------------------------------------------------------------------------
    def cached_media(self, sha256: str, signature: str) -> dict | None:
        row = self.connect().db.execute(
            "SELECT result_json FROM media_cache WHERE sha256=? AND signature=?", (sha256, signature)).fetchone()
        return json.loads(row[0]) if row else None

    def cache_media(self, sha256: str, signature: str, kind: str, result: dict) -> None:
        with self.connect() as db:
            db.execute("INSERT OR REPLACE INTO media_cache VALUES (?, ?, ?, ?, ?)",
                       (sha256, signature, kind, json.dumps(result), time.time()))

    # ---- items -------------------------------------------------------------------------------------------------
    def content_hashes(self) -> dict[str, str]:
        return dict(self.connect().db.execute("SELECT id, content_hash FROM items"))

    def put_item(self, item: CatalogItem, content_hash: str, card: str, card_hash: str, media: list[dict]) -> None:
        """Insert or replace one item atomically; a changed card clears its embedded mark so it is re-embedded."""
        with self.connect() as db:
            db.execute(
                "INSERT INTO items (id, title, item_json, content_hash, card, card_hash, embedded_hash, media_json,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                " title=excluded.title, item_json=excluded.item_json, content_hash=excluded.content_hash,"
                " card=excluded.card, card_hash=excluded.card_hash, media_json=excluded.media_json,"
                " updated_at=excluded.updated_at,"
                " embedded_hash=CASE WHEN items.card_hash=excluded.card_hash THEN items.embedded_hash ELSE NULL END",
                (item.id, item.title, item.model_dump_json(), content_hash, card, card_hash, json.dumps(media),
                 time.time()))

    def mark_embedded(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Record that these (item id, card hash) pairs are in the vector store."""
        with self.connect() as db:
            db.executemany("UPDATE items SET embedded_hash=? WHERE id=? AND card_hash=?",
                           [(h, i, h) for i, h in pairs])

    # ---- facets (what requests can state conditions on; llmrec.request) -----------------------------------------
    def facets_json(self) -> str | None:
        return self.get_meta("facets")

    def put_facets(self, facets_json: str, values: dict[str, str]) -> int:
        """Record the catalog's facets and each item's facet values (JSON); returns how many items' values changed.

        Unchanged values keep their store mark, so only changed items are rewritten in the vector store.
        """
        old = dict(self.connect().db.execute("SELECT id, values_json FROM item_facets"))
        changed = [(i, v) for i, v in values.items() if old.get(i) != v]
        with self.connect() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('facets', ?)", (facets_json,))
            db.executemany("INSERT INTO item_facets (id, values_json, stored_json) VALUES (?, ?, NULL) "
                           "ON CONFLICT(id) DO UPDATE SET values_json=excluded.values_json", changed)
        return len(changed)

    def facet_values(self) -> dict[str, str]:
        """Item id -> facet values JSON, for every item."""
        return dict(self.connect().db.execute("SELECT id, values_json FROM item_facets"))

    def unsynced_facets(self) -> list[tuple[str, str, str | None]]:
        """(id, values JSON, stored JSON) of embedded items whose vector metadata lacks their current facet values."""
        return list(self.connect().db.execute(
            "SELECT f.id, f.values_json, f.stored_json FROM item_facets f JOIN items i ON i.id = f.id "
            "WHERE i.embedded_hash = i.card_hash AND (f.stored_json IS NULL OR f.stored_json != f.values_json) "
            "ORDER BY f.id"))

    def mark_facets_stored(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Record that these (item id, values JSON) are in the vector store's metadata."""
        with self.connect() as db:
            db.executemany("UPDATE item_facets SET stored_json=? WHERE id=? AND values_json=?",
                           [(v, i, v) for i, v in pairs])

    def restart_embedding(self, space_key: str, space: str) -> None:
        """Forget which cards are embedded and record the new embedding space, in one transaction.

        Called after the text collection was emptied for a new model: from here the per-item marks track progress,
        so an ingest interrupted while re-embedding continues where it stopped instead of starting over.
        """
        with self.connect() as db:
            db.execute("UPDATE items SET embedded_hash=NULL")
            db.execute("UPDATE item_facets SET stored_json=NULL")  # the new vectors' metadata starts empty too
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (space_key, space))

    def unembedded(self) -> list[tuple[str, str, str]]:
        """(id, card, card_hash) of items whose current card is not in the vector store yet."""
        return list(self.connect().db.execute(
            "SELECT id, card, card_hash FROM items WHERE embedded_hash IS NULL OR embedded_hash != card_hash "
            "ORDER BY id"))

    def item_count(self) -> int:
        return self.connect().db.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def catalog_version(self) -> tuple[int, float]:
        """(item count, newest update time): changes whenever an item is added or rewritten (items are never
        deleted), so whatever is derived from the whole catalog can be kept until it does."""
        count, newest = self.connect().db.execute("SELECT COUNT(*), MAX(updated_at) FROM items").fetchone()
        return count, newest or 0.0

    def get_items(self, ids: Iterable[str]) -> dict[str, StoredItem]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, StoredItem] = {}
        db = self.connect().db
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in db.execute(f"SELECT id, title, item_json, card, card_hash, embedded_hash, media_json "
                                  f"FROM items WHERE id IN ({marks})", chunk):
                out[row[0]] = StoredItem(id=row[0], title=row[1], item=CatalogItem.model_validate_json(row[2]),
                                         card=row[3], card_hash=row[4], embedded_hash=row[5],
                                         media=json.loads(row[6]))
        return out

    def get_item(self, item_id: str) -> StoredItem | None:
        return self.get_items([item_id]).get(item_id)

    def all_item_ids(self) -> list[str]:
        return [r[0] for r in self.connect().db.execute("SELECT id FROM items ORDER BY id")]

    def titles(self) -> dict[str, str]:
        return dict(self.connect().db.execute("SELECT id, title FROM items"))

    # ---- interactions ------------------------------------------------------------------------------------------
    def add_interactions(self, interactions: InteractionLog | Iterable[Interaction], batch: int = 50_000,
                         progress: Callable[[Iterable, int, str], Iterable] | None = None) -> int:
        """Append interactions; exact repeats (same user, item, timestamp) are ignored, so re-ingest is safe.

        Rows are numbered after the log's last: ``row`` keeps the order of everything ever added. ``progress``
        (iterable, total, description) wraps the batches, for a progress bar.
        """
        db = self.connect().db
        base = db.execute("SELECT COALESCE(MAX(row) + 1, 0) FROM interactions").fetchone()[0]
        records = (interactions.records() if isinstance(interactions, InteractionLog) else
                   ((i.user_id, i.item_id, i.timestamp, i.rating, i.row) for i in interactions))
        batches = _batches(((u, i, t, r, base + row) for u, i, t, r, row in records), batch)
        if progress is not None and isinstance(interactions, InteractionLog):
            batches = progress(batches, -(-len(interactions) // batch), "interactions")
        return sum(self._insert_interactions(rows) for rows in batches)

    def _insert_interactions(self, rows: list[tuple]) -> int:
        with self.connect() as db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO interactions VALUES (?, ?, ?, ?, ?)", rows)
            return db.total_changes - before

    def history(self, user_id: str, limit: int | None = None) -> list[Interaction]:
        """The user's interactions, oldest first (ties by original file order). Raises for an unknown user."""
        rows = list(self.connect().db.execute(
            "SELECT user_id, item_id, timestamp, rating, row FROM interactions WHERE user_id=? "
            "ORDER BY timestamp, row", (user_id,)))
        if not rows:
            raise UnknownUserError(f"unknown user {user_id!r}: no interactions in workspace {self.root}; "
                                   "ask anonymously, pass --history ITEM,ITEM, or ingest an interaction log")
        history = [Interaction(user_id=r[0], item_id=r[1], timestamp=r[2], rating=r[3], row=r[4]) for r in rows]
        return history[-limit:] if limit else history

    def item_popularity(self) -> dict[str, int]:
        """Item id -> number of interactions (items nobody interacted with are absent)."""
        return dict(self.connect().db.execute("SELECT item_id, COUNT(*) FROM interactions GROUP BY item_id"))

    def interaction_count(self) -> int:
        return self.connect().db.execute("SELECT COUNT(*) FROM interactions").fetchone()[0]

    def interaction_log(self) -> InteractionLog:
        """Every interaction, as columns, in the order they were added (``row``)."""
        columns: tuple[list, ...] = ([], [], [], [], [])  # filled row by row: no list of a million tuples
        appends = [column.append for column in columns]
        for record in self.connect().db.execute(
                "SELECT user_id, item_id, timestamp, rating, row FROM interactions ORDER BY row"):
            for append, value in zip(appends, record):
                append(value)
        return InteractionLog.from_columns(*columns)


def _batches(records: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    batch = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _enable_wal(db: sqlite3.Connection, wait: float = 60.0) -> None:
    """Switch a new database to WAL; SQLite does not wait on its busy handler for this, so retry ourselves.

    Two processes opening a brand-new workspace at once both try to change the journal mode; the loser gets
    "database is locked" at once rather than after busy_timeout.
    """
    deadline = time.monotonic() + wait
    delay = 0.01
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


class _Tx:
    """``with ws.connect() as db:`` runs the block in one IMMEDIATE transaction; ``.db`` is the raw connection."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
