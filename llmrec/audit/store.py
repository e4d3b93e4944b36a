"""The audit store: every served recommendation, appended to SQLite in the workspace (``audit.sqlite``).

One transaction per record with ``synchronous=FULL`` in WAL mode: a record is durable when ``append`` returns, and a
crash (process killed, power lost) mid-write loses at most the record being written. Several processes and threads
may append at once: each thread of each process opens its own connection, and writers wait on SQLite's lock
(``busy_timeout``) instead of failing. Readers never block writers.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from llmrec.audit.record import AuditRecord
from llmrec.errors import WorkspaceError

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    request_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,     -- unix time the recommendation was served
    model TEXT NOT NULL,
    adapter TEXT,
    config_hash TEXT NOT NULL,
    record_json TEXT NOT NULL     -- the whole AuditRecord
);
CREATE INDEX IF NOT EXISTS records_created ON records(created_at);
"""


class AuditStore:
    """Append-only store of ``AuditRecord``s in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        db = self._db()
        with _immediate(db):
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            columns = {row[1] for row in db.execute("PRAGMA table_info(records)")}
            if "config_hash" not in columns:  # stores written before the column existed
                db.execute("ALTER TABLE records ADD COLUMN config_hash TEXT NOT NULL DEFAULT ''")
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        version = int(db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
        if version != SCHEMA_VERSION:
            raise WorkspaceError(f"audit store {self.path} has schema version {version}; this llmrec reads "
                                 f"{SCHEMA_VERSION}")

    def _db(self) -> sqlite3.Connection:
        """This thread's connection; a forked child opens its own instead of sharing the parent's."""
        db = getattr(self._local, "db", None)
        if db is None or self._local.pid != os.getpid():
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise WorkspaceError(f"audit store {self.path}: SQLite refused WAL mode ({mode}); is the workspace "
                                     "on a network filesystem? Put it on a local disk")
            db.execute("PRAGMA synchronous=FULL")  # each commit is on disk before append returns
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def append(self, record: AuditRecord) -> None:
        """Store one record in its own transaction. Raises ValueError if its request id is already stored."""
        db = self._db()
        try:
            with _immediate(db):
                db.execute("INSERT INTO records (request_id, created_at, model, adapter, config_hash, record_json) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           (record.request_id, record.created_at, record.model, record.adapter, record.config_hash,
                            record.model_dump_json()))
        except sqlite3.IntegrityError:
            raise ValueError(f"audit record {record.request_id!r} is already stored in {self.path}") from None

    def get(self, request_id: str) -> AuditRecord | None:
        row = self._db().execute("SELECT record_json FROM records WHERE request_id=?", (request_id,)).fetchone()
        return AuditRecord.model_validate_json(row[0]) if row else None

    def iter_records(self, since: float | None = None, batch: int = 200) -> Iterator[AuditRecord]:
        """Records served at or after ``since`` (unix time), oldest first.

        Pages by (created_at, rowid) so no read transaction stays open while the caller works on a record.
        """
        db = self._db()
        floor = float("-inf") if since is None else float(since)
        last_time, last_rowid = floor, -1
        while True:
            rows = db.execute(
                "SELECT created_at, rowid, record_json FROM records WHERE created_at >= ? "
                "AND (created_at > ? OR (created_at = ? AND rowid > ?)) ORDER BY created_at, rowid LIMIT ?",
                (floor, last_time, last_time, last_rowid, batch)).fetchall()
            if not rows:
                return
            for _, _, blob in rows:
                yield AuditRecord.model_validate_json(blob)
            last_time, last_rowid = rows[-1][0], rows[-1][1]

    def count(self, since: float | None = None) -> int:
        if since is None:
            return self._db().execute("SELECT COUNT(*) FROM records").fetchone()[0]
        return self._db().execute("SELECT COUNT(*) FROM records WHERE created_at >= ?", (since,)).fetchone()[0]

    def integrity_check(self) -> str:
        """SQLite's own verdict on the file: ``"ok"`` when it is intact."""
        return "; ".join(r[0] for r in self._db().execute("PRAGMA integrity_check"))

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        db = getattr(self._local, "db", None)
        if db is not None and self._local.pid == os.getpid():
            db.close()
        self._local.db = None


class _immediate:
    """``with _immediate(db):`` runs the block in one BEGIN IMMEDIATE transaction (takes the write lock up front,
    so two writers queue on busy_timeout instead of deadlocking on a lock upgrade)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        started = time.monotonic()
        while True:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return self.db
            except sqlite3.OperationalError as e:  # busy_timeout expired under heavy contention: keep waiting
                if "locked" not in str(e) or time.monotonic() - started > 5 * BUSY_TIMEOUT_MS / 1000:
                    raise

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
