"""The audit store: every served recommendation, appended to SQLite in WAL mode.

One transaction per record, so a crash loses at most the record being written; WAL plus a busy timeout lets several
processes and threads append at once while readers keep reading.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from llmrec.audit.record import AuditRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    request_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    model TEXT NOT NULL,
    adapter TEXT,
    record_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_time ON records(created_at);
"""


class AuditStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._db().executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=60000")
            self._local.db = db
        return db

    def append(self, record: AuditRecord) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?)",
                       (record.request_id, record.created_at, record.model, record.adapter,
                        record.model_dump_json()))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def get(self, request_id: str) -> AuditRecord | None:
        row = self._db().execute("SELECT record_json FROM records WHERE request_id=?", (request_id,)).fetchone()
        return AuditRecord.model_validate_json(row[0]) if row else None

    def iter_records(self, since: float | None = None) -> Iterator[AuditRecord]:
        rows = self._db().execute("SELECT record_json FROM records WHERE created_at >= ? ORDER BY created_at",
                                  (since or 0.0,))
        for (blob,) in rows:
            yield AuditRecord.model_validate_json(blob)

    def count(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM records").fetchone()[0]
