"""Ingest under bad media, interruption and concurrent writers: nothing already stored is lost or duplicated."""

import json
import os
import signal
import subprocess
import sys
import time
import wave

import pytest

from llmrec.config import LLMRecConfig
from llmrec.ingest import ingest
from llmrec.retrieval.retriever import TEXT_COLLECTION
from llmrec.retrieval.stores import open_store
from llmrec.testing.catalogs import TEXT_ITEMS, write_text_catalog
from llmrec.workspace import Workspace


def silent_wav(path, seconds=0.1, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))


def test_bad_media_are_recorded_on_the_item_and_never_abort_the_batch(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("this is a text file, not a picture")
    silent_wav(tmp_path / "silence.wav")
    rows = [{"id": "a", "title": "Zero bytes", "image": "empty.jpg"},
            {"id": "b", "title": "Text named jpg", "image": "notes.jpg"},
            {"id": "c", "title": "Silence", "audio": "silence.wav"},
            {"id": "d", "title": "Missing file", "image": "nowhere.png"},
            {"id": "e", "title": "Fine", "description": "a normal item"}]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    report = ingest(tmp_path / "c.jsonl", tmp_path / "ws")
    assert report.items_new == 5 and report.embedded == 5
    failed = "\n".join(report.media_failed)
    for name in ("empty.jpg", "notes.jpg", "nowhere.png"):
        assert name in failed
    ws = Workspace(tmp_path / "ws")
    stored = ws.get_items(["a", "b", "c"])
    assert stored["a"].media[0]["error"] and stored["b"].media[0]["error"]
    assert not stored["c"].media[0].get("text")  # silence never becomes an invented transcript
    assert stored["a"].card == "Title: Zero bytes"


def test_fixing_a_broken_file_updates_only_that_item(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"")
    (tmp_path / "c.jsonl").write_text(json.dumps({"id": "x", "title": "X", "image": "x.jpg"}) + "\n" +
                                      json.dumps({"id": "y", "title": "Y"}) + "\n")
    ingest(tmp_path / "c.jsonl", tmp_path / "ws")
    from PIL import Image

    Image.new("RGB", (64, 32), (200, 30, 30)).save(tmp_path / "x.jpg", format="JPEG")
    report = ingest(tmp_path / "c.jsonl", tmp_path / "ws")
    assert (report.items_updated, report.items_unchanged, report.embedded) == (1, 1, 1)


def _ingest_cmd(cat, log, ws):
    return [sys.executable, "-m", "llmrec.cli", "ingest", str(cat), "--interactions", str(log), "--workspace", str(ws)]


@pytest.mark.slow
def test_killed_ingest_resumes_without_duplicates_or_loss(tmp_path):
    cat, log = write_text_catalog(tmp_path / "data")
    ws = tmp_path / "ws"
    proc = subprocess.Popen(_ingest_cmd(cat, log, ws), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(12)  # mid-way: models loading or items being written
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = subprocess.run(_ingest_cmd(cat, log, ws), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    w = Workspace(ws)
    assert w.item_count() == len(TEXT_ITEMS) and not w.unembedded()
    assert open_store(LLMRecConfig().store, w.root).collection(TEXT_COLLECTION).count() == len(TEXT_ITEMS)
    assert w.interaction_count() == 6


def test_processes_that_create_one_new_workspace_at_once_all_open_it(tmp_path):
    # Two first ingests into the same new folder both see it missing; the loser must open, not fail.
    ws = tmp_path / "fresh" / "ws"
    code = ("import sys, time; from llmrec.workspace import Workspace; "
            "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); Workspace(sys.argv[1], create=True)")
    start = time.time() + 3
    procs = [subprocess.Popen([sys.executable, "-c", code, str(ws), str(start)], stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    assert Workspace(ws).item_count() == 0


@pytest.mark.slow
def test_concurrent_ingests_into_one_workspace_serialise_and_agree(tmp_path):
    cat, log = write_text_catalog(tmp_path / "data")
    ws = tmp_path / "ws"
    procs = [subprocess.Popen(_ingest_cmd(cat, log, ws), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    w = Workspace(ws)
    assert w.item_count() == len(TEXT_ITEMS) and w.interaction_count() == 6 and not w.unembedded()
