"""The audit store keeps every served recommendation: durable per record, safe with many writers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llmrec.audit.store import AuditStore
from llmrec.testing.audit_records import make_record

WRITER = Path(__file__).parent / "store_writer.py"
REPO = Path(__file__).resolve().parents[2]


def _writer(db: Path, prefix: str, n: int, payload: int = 0) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's llmrec, not whichever one is installed
    return subprocess.Popen([sys.executable, str(WRITER), str(db), prefix, str(n), str(payload)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_a_stored_record_reads_back_identical(tmp_path):
    store = AuditStore(tmp_path / "audit.sqlite")
    record = make_record("r1")
    store.append(record)
    assert store.get("r1") == record
    assert store.get("missing") is None
    assert store.count() == 1


def test_the_store_file_is_in_wal_mode(tmp_path):
    AuditStore(tmp_path / "audit.sqlite").append(make_record("r1"))
    db = sqlite3.connect(tmp_path / "audit.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_records_iterate_oldest_first_and_since_filters_by_serving_time(tmp_path):
    store = AuditStore(tmp_path / "audit.sqlite")
    for i, t in enumerate([300.0, 100.0, 200.0, 200.0, 400.0]):
        store.append(make_record(f"r{i}", created_at=t))
    assert [r.request_id for r in store.iter_records(batch=2)] == ["r1", "r2", "r3", "r0", "r4"]
    assert [r.request_id for r in store.iter_records(since=200.0, batch=1)] == ["r2", "r3", "r0", "r4"]
    assert store.count(since=300.0) == 2


def test_appending_a_request_id_twice_is_refused_and_keeps_the_first(tmp_path):
    store = AuditStore(tmp_path / "audit.sqlite")
    store.append(make_record("r1", payload=3))
    with pytest.raises(ValueError, match="already stored"):
        store.append(make_record("r1", payload=5))
    assert store.get("r1").ranking_prompt == "xxx"


def test_a_store_written_before_config_hash_was_a_column_still_opens_and_appends(tmp_path):
    db = sqlite3.connect(tmp_path / "audit.sqlite")
    db.execute("CREATE TABLE records (request_id TEXT PRIMARY KEY, created_at REAL NOT NULL, model TEXT NOT NULL, "
               "adapter TEXT, record_json TEXT NOT NULL)")
    old = make_record("old")
    db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?)", ("old", old.created_at, old.model, None,
                                                             old.model_dump_json()))
    db.commit()
    db.close()
    store = AuditStore(tmp_path / "audit.sqlite")
    store.append(make_record("new"))
    assert {r.request_id for r in store.iter_records()} == {"old", "new"}


def test_four_writer_processes_store_exactly_all_their_records(tmp_path):
    db = tmp_path / "audit.sqlite"
    AuditStore(db)
    procs = [_writer(db, f"p{i}", 50) for i in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    store = AuditStore(db)
    assert store.count() == 200
    ids = {r.request_id for r in store.iter_records()}
    assert ids == {f"p{i}-{j:05d}" for i in range(4) for j in range(50)}
    assert store.integrity_check() == "ok"


def test_threads_sharing_one_store_object_each_write_safely(tmp_path):
    store = AuditStore(tmp_path / "audit.sqlite")
    errors = []

    def write(t: int) -> None:
        try:
            for j in range(25):
                store.append(make_record(f"t{t}-{j}"))
        except Exception as e:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(e)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.count() == 100


def test_a_writer_killed_mid_stream_loses_nothing_it_committed(tmp_path):
    db = tmp_path / "audit.sqlite"
    AuditStore(db)
    # Large records make each write take a while, so the kill is likely to land inside one.
    proc = _writer(db, "k", 100_000, payload=200_000)
    committed = []
    deadline = time.monotonic() + 120
    while len(committed) < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        committed.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert len(committed) >= 40, proc.stderr.read()

    store = AuditStore(db)  # reopening recovers the WAL
    assert store.integrity_check() == "ok"
    for rid in committed:
        record = store.get(rid)
        assert record is not None and len(record.ranking_prompt) == 200_000
    # Every record that made it in is whole (the one being written when killed is simply absent), and the
    # writer may have committed a few more than we read before the kill.
    assert store.count() >= len(committed)
    assert all(len(r.ranking_prompt) == 200_000 for r in store.iter_records())
    store.append(make_record("after-crash"))
    assert store.get("after-crash") is not None
