"""The demo catalogue: enough varied items and media, a coherent log, three requests, byte-identical rewrites."""

from __future__ import annotations

import csv
import json
import shutil
import wave
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from llmrec.demo import HIDDEN_FACTS, catalog, covers, speech, tones, write_demo_catalog
from llmrec.errors import LLMRecError

HAS_ESPEAK = shutil.which("espeak-ng") is not None
needs_espeak = pytest.mark.skipif(not HAS_ESPEAK, reason="espeak-ng not installed (apt-get install espeak-ng)")
MEDIA_KEYS = ("image", "audio")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo written once for the module; spoken audio only where espeak-ng exists."""
    return write_demo_catalog(tmp_path_factory.mktemp("demo"), with_speech=HAS_ESPEAK)


@pytest.fixture(scope="module")
def rows(demo):
    return [json.loads(line) for line in demo.catalog.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def events(demo):
    with demo.interactions.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def media_paths(row: dict, key: str) -> list[str]:
    value = row.get(key)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def text_of(row: dict) -> str:
    """Everything a text-only recommender sees of an item."""
    return " ".join(str(v) for k, v in row.items() if k not in MEDIA_KEYS).lower()


def all_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- the catalogue ------------------------------------------------------------------------------------------------

def test_catalog_is_large_and_varied_enough_for_a_demo(rows):
    kinds = Counter(row["kind"] for row in rows)
    assert len(rows) >= 48
    assert len(kinds) >= 3 and kinds["film"] >= 24
    assert sum(bool(media_paths(r, "image")) for r in rows) >= 16
    audio_items = [r for r in rows if media_paths(r, "audio")]
    assert len(audio_items) >= (6 if HAS_ESPEAK else 2)
    film_genres = {g.strip() for r in rows if r["kind"] == "film" for g in r["genres"].split(",")}
    assert {"Science fiction", "Horror", "Comedy", "Drama", "Documentary", "Animation", "Thriller",
            "Romance"} <= film_genres


def test_item_ids_are_unique_and_every_item_has_a_title(rows):
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))
    assert all(row["title"].strip() for row in rows)


def test_every_media_path_is_relative_and_points_at_a_non_empty_file(demo, rows):
    base = demo.catalog.parent
    for row in rows:
        for key in MEDIA_KEYS:
            for relative in media_paths(row, key):
                assert not Path(relative).is_absolute()
                path = base / relative
                assert path.is_file() and path.stat().st_size > 0, f"{row['id']}: {relative}"


def test_images_are_valid_pngs_of_poster_or_cover_shape(demo, rows):
    for row in rows:
        for relative in media_paths(row, "image"):
            with Image.open(demo.catalog.parent / relative) as image:
                assert image.format == "PNG"
                image.verify()
            expected = covers.COVER_SIZE if row["kind"] == "album" else covers.POSTER_SIZE
            with Image.open(demo.catalog.parent / relative) as image:
                assert image.size == expected


def test_audio_files_are_mono_wavs_with_sound(demo, rows):
    for row in rows:
        for relative in media_paths(row, "audio"):
            with wave.open(str(demo.catalog.parent / relative)) as audio:
                assert audio.getnchannels() == 1
                assert audio.getnframes() / audio.getframerate() > 2.0  # seconds


def test_tone_previews_differ_in_loudness_by_style():
    quiet = tones.tone_preview("lullaby", seed=1)
    loud = tones.tone_preview("pulse", seed=1)
    assert quiet[:4] == b"RIFF" and loud[:4] == b"RIFF"
    assert tones.tone_preview("lullaby", seed=1) == quiet  # seeded
    rms = [float(np.sqrt(np.mean(np.frombuffer(w[44:], "<i2").astype(float) ** 2))) for w in (quiet, loud)]
    assert rms[1] > 2 * rms[0]


# --- facts that live only in media --------------------------------------------------------------------------------

def test_hidden_facts_appear_in_no_item_text(rows):
    for item_id, fact in HIDDEN_FACTS.items():
        assert item_id in {r["id"] for r in rows}
        for row in rows:  # not in that item's text, and no other item's text answers the request instead
            for word in fact.words:
                assert word not in text_of(row), f"{word!r} found in the text of {row['id']}"


def test_the_hidden_image_fact_is_printed_on_its_poster(rows):
    row = next(r for r in rows if r["id"] == "film-shepherd-of-harrow-fell")
    assert media_paths(row, "image")
    entry = next(e for e in catalog.ITEMS if e.id == row["id"])
    assert entry.cover.tagline == HIDDEN_FACTS[row["id"]].phrase


@needs_espeak
def test_the_hidden_audio_fact_is_spoken_in_its_episode(rows):
    row = next(r for r in rows if r["id"] == "pod-field-notes-12")
    assert media_paths(row, "audio") == ["media/audio/pod-field-notes-12.wav"]
    entry = next(e for e in catalog.ITEMS if e.id == row["id"])
    assert HIDDEN_FACTS[row["id"]].phrase in entry.speech
    assert "volcano" in entry.speech and "volcano" not in text_of(row)


# --- the interaction log ------------------------------------------------------------------------------------------

def test_every_interaction_names_a_catalog_item_with_a_valid_rating(rows, events):
    ids = {row["id"] for row in rows}
    assert list(events[0]) == ["user_id", "item_id", "timestamp", "rating"]
    for event in events:
        assert event["item_id"] in ids
        assert 1 <= int(event["rating"]) <= 5


def test_users_have_5_to_15_events_in_time_order(events):
    per_user = Counter(e["user_id"] for e in events)
    assert 10 <= len(per_user) <= 14
    assert all(5 <= n <= 15 for n in per_user.values())
    stamps = [int(e["timestamp"]) for e in events]
    assert stamps == sorted(stamps)
    for user in per_user:
        own = [int(e["timestamp"]) for e in events if e["user_id"] == user]
        assert len(set(own)) == len(own)


# --- requests -----------------------------------------------------------------------------------------------------

def test_three_requests_anonymous_personal_and_media_dependent(demo, rows, events):
    anonymous, personal, media = demo.requests
    assert len(demo.requests) == 3 and all(r.why for r in demo.requests)
    assert anonymous.user_id is None and media.user_id is None
    seen = {e["item_id"] for e in events if e["user_id"] == personal.user_id}
    assert seen, "the personal request's user must have a history"
    assert not seen & set(personal.expected_ids), "expected answers must be new to the user"
    assert set(media.expected_ids) <= set(HIDDEN_FACTS)
    ids = {row["id"] for row in rows}
    assert all(set(r.expected_ids) <= ids and r.expected_ids for r in demo.requests)


def test_the_anonymous_request_has_one_clear_answer(rows):
    slow_gentle_scifi = [r["id"] for r in rows if r["kind"] == "film" and "Science fiction" in r["genres"]
                         and r["content_advice"].startswith("No violence")]
    assert slow_gentle_scifi == ["film-quiet-orbit"]


# --- rewriting ----------------------------------------------------------------------------------------------------

def test_rewriting_is_byte_identical_and_leaves_files_untouched(demo):
    folder = demo.catalog.parent
    before = all_files(folder)
    mtimes = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    again = write_demo_catalog(folder, with_speech=HAS_ESPEAK)
    assert all_files(folder) == before
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == mtimes
    assert again == demo


def test_a_damaged_media_file_is_rewritten(demo, rows):
    relative = media_paths(rows[0], "image")[0]
    path = demo.catalog.parent / relative
    good = path.read_bytes()
    path.write_bytes(b"not a png")
    write_demo_catalog(demo.catalog.parent, with_speech=HAS_ESPEAK)
    assert path.read_bytes() == good


def test_a_second_destination_gets_the_same_bytes(demo, tmp_path):
    write_demo_catalog(tmp_path, with_speech=HAS_ESPEAK)
    assert all_files(tmp_path) == all_files(demo.catalog.parent)


# --- the rest of llmrec reads it ----------------------------------------------------------------------------------

def test_catalog_and_log_pass_the_strict_readers(demo, rows):
    from llmrec.catalog.readers import read_catalog, read_interactions

    catalog = read_catalog(demo.catalog, strict=True)
    assert len(catalog.items) == len(rows)
    item = next(i for i in catalog.items if i.id == "film-quiet-orbit")
    assert item.fields["kind"] == "film" and item.images[0].is_file()
    log = read_interactions(demo.interactions, strict=True)
    assert len(log.interactions) == sum(1 for _ in demo.interactions.open()) - 1


# --- espeak-ng ----------------------------------------------------------------------------------------------------

def test_missing_espeak_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    with pytest.raises(LLMRecError, match="apt-get install espeak-ng"):
        write_demo_catalog(tmp_path)
    assert not (tmp_path / "catalog.jsonl").exists()


def test_without_speech_the_podcasts_keep_their_text_but_no_spoken_audio(tmp_path):
    written = write_demo_catalog(tmp_path, with_speech=False)
    rows = [json.loads(line) for line in written.catalog.read_text(encoding="utf-8").splitlines()]
    podcasts = [r for r in rows if r["kind"] == "podcast episode"]
    assert podcasts and all("audio" not in r and r["description"] for r in podcasts)


@needs_espeak
def test_speak_returns_a_wav_of_the_text():
    audio = speech.speak("Hello from the demo catalogue.")
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE" and len(audio) > 10_000
