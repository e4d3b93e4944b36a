"""Ingest under bad media, interruption and concurrent writers: nothing already stored is lost or duplicated."""

import json
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

from llmrec.config import LLMRecConfig
from llmrec.ingest import ingest
from llmrec.retrieval.retriever import TEXT_COLLECTION
from llmrec.retrieval.stores import open_store
from llmrec.testing.catalogs import TEXT_ITEMS, write_text_catalog
from llmrec.testing.hostile_media import link_out, recorded_opens, write_hostile_catalog
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


# ---- hostile media paths (issue 21) --------------------------------------------------------------------------------
FAST_MEDIA = {"media": {"ocr": False, "transcribe": False}}


def test_a_hostile_media_catalog_ingests_every_item_and_reads_nothing_outside_its_folder(tmp_path):
    hostile = write_hostile_catalog(tmp_path / "hostile")
    config = LLMRecConfig.from_mapping(FAST_MEDIA)
    with recorded_opens() as opened:
        report = ingest(hostile.catalog, tmp_path / "ws", config=config)
    assert report.items_new == len(hostile.normal) + len(hostile.refused) and report.embedded == report.items_new
    assert report.seconds < 60  # it used to hang forever on /dev/zero
    stored = Workspace(tmp_path / "ws").get_items([*hostile.normal, *hostile.refused])
    for item_id, fragment in hostile.refused.items():
        assert fragment in stored[item_id].media[0]["error"], (item_id, stored[item_id].media)
        assert stored[item_id].card == f"Title: {stored[item_id].title}"  # nothing of the file reached the card
        assert any(line.startswith("catalog.jsonl:") and fragment in line for line in report.media_failed)
    assert len(report.media_failed) == len(hostile.refused)
    for item_id in hostile.normal:
        assert all(not m.get("error") for m in stored[item_id].media), stored[item_id].media
    assert "described the first 10 min 0 s of 3 h 0 min" in stored["long"].card
    # The proof that nothing outside was read: no open of those files, under any name, by any Python code.
    assert not {name for name in opened if Path(name).name in hostile.never_opened}
    assert not [name for name in opened if name.startswith(str(hostile.outside))]

    with recorded_opens() as opened_again:
        again = ingest(hostile.catalog, tmp_path / "ws", config=config)
    assert again.items_unchanged == report.items_new  # refusals are stable: nothing re-described
    assert not {name for name in opened_again if Path(name).name in hostile.never_opened}


def test_media_roots_let_an_operator_admit_a_folder_outside_the_catalog(tmp_path):
    hostile = write_hostile_catalog(tmp_path / "hostile")
    config = LLMRecConfig.from_mapping({"media": {**FAST_MEDIA["media"], "roots": [str(hostile.outside)]}})
    ingest(hostile.catalog, tmp_path / "ws", config=config)
    stored = Workspace(tmp_path / "ws").get_items(["absolute", "symlink", "zero"])
    assert stored["absolute"].media[0]["error"] is None and "dominant colours: red" in stored["absolute"].card
    assert stored["symlink"].media[0]["error"] is None  # its target is inside a root now
    assert "outside the allowed media folders" in stored["zero"].media[0]["error"]


def test_a_movielens_poster_linked_out_of_the_posters_folder_is_refused(tmp_path):
    from PIL import Image

    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "movies.csv").write_text("movieId,title,genres\n1,Toy Story (1995),Animation\n2,Heat (1995),Crime\n")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,3.0,2\n")
    posters, outside = tmp_path / "posters", tmp_path / "outside"
    link_out(posters, outside, "2.jpg", secret="secret.jpg")
    Image.new("RGB", (30, 45), (10, 10, 200)).save(posters / "1.jpg")
    with recorded_opens() as opened:
        report = ingest(folder, tmp_path / "ws", config=LLMRecConfig.from_mapping(FAST_MEDIA), posters=posters)
    stored = Workspace(tmp_path / "ws").get_items(["1", "2"])
    assert stored["1"].media[0]["error"] is None and "dominant colours: blue" in stored["1"].card
    assert f"it resolves to {outside / 'secret.jpg'}" in stored["2"].media[0]["error"]
    assert len(report.media_failed) == 1
    assert not [name for name in opened if Path(name).name == "secret.jpg" or name.startswith(str(outside))]


def test_a_transcript_cut_by_the_time_limit_is_kept_on_the_card_but_never_cached(tmp_path):
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    text = ("The lighthouse keeper climbed the stairs every evening. Ships passed far out on the grey water. "
            "One winter night a fishing boat lost its way in the fog. The keeper rang the bell until morning.")
    subprocess.run(["espeak-ng", "-w", str(tmp_path / "talk.wav"), text], check=True, capture_output=True,
                   timeout=60)
    (tmp_path / "c.jsonl").write_text(json.dumps({"id": "talk", "title": "Talk", "audio": "talk.wav"}) + "\n")
    config = LLMRecConfig.from_mapping({"media": {"max_transcribe_seconds": 0.01, "audio_descriptors": False}})
    report = ingest(tmp_path / "c.jsonl", tmp_path / "ws", config=config)
    ws = Workspace(tmp_path / "ws")
    media = ws.get_item("talk").media[0]
    assert media["time_limited"] and "lighthouse" in media["text"].lower()
    assert "transcribed the first " in ws.get_item("talk").card
    assert report.media_described == 1 and ws.cached_media(media["sha256"], _audio_signature(config)) is None


def _audio_signature(config: LLMRecConfig) -> str:
    from llmrec.media import MediaDescriber

    return MediaDescriber(config.media).signature("audio")


@pytest.mark.slow
def test_cli_ingests_a_hostile_media_catalog_in_seconds_with_exit_code_0(tmp_path):
    hostile = write_hostile_catalog(tmp_path / "hostile")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "llmrec.cli", "ingest", str(hostile.catalog), "--workspace",
                           str(tmp_path / "ws"), "--json"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["items_new"] == len(hostile.normal) + len(hostile.refused)
    assert len(report["media_failed"]) == len(hostile.refused)
    assert report["seconds"] < 120 and wall < 240, (report["seconds"], wall)  # default models load included
    stored = Workspace(tmp_path / "ws").get_items(list(hostile.normal))
    assert all(not m.get("error") for item in stored.values() for m in item.media)
