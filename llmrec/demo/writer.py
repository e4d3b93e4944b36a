"""Writing the demo catalogue: ``catalog.jsonl``, ``interactions.csv`` and rendered ``media/``, byte-identical on
every rewrite (media caches are keyed by file hash)."""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Callable
from pathlib import Path

from llmrec.demo.catalog import HISTORIES, ITEMS, REQUESTS, DemoCatalog, DemoItem
from llmrec.demo.covers import COVER_SIZE, POSTER_SIZE, draw_cover
from llmrec.demo.speech import require_espeak, speak
from llmrec.demo.tones import tone_preview

BASE_TIME = 1_714_521_600  # 2024-05-01 00:00 UTC; the log's first event, fixed so rewrites are byte-identical


def write_demo_catalog(dest: Path, *, with_speech: bool = True) -> DemoCatalog:
    """Write ``catalog.jsonl``, ``interactions.csv`` and ``media/`` under ``dest``; rewriting is byte-identical.

    Files are only rewritten when their content differs, so a second call leaves modification times alone.

    Args:
        with_speech: False skips the spoken podcast intros (for machines without espeak-ng); the items keep their
            text, the hidden audio fact is then simply absent.
    """
    dest = Path(dest)
    if with_speech:
        require_espeak()
    (dest / "media").mkdir(parents=True, exist_ok=True)
    rows = [_write_media_and_row(entry, dest, with_speech) for entry in ITEMS]
    catalog = dest / "catalog.jsonl"
    _write_if_changed(catalog, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode())
    interactions = dest / "interactions.csv"
    _write_if_changed(interactions, _interactions_csv().encode())
    return DemoCatalog(catalog=catalog, interactions=interactions, requests=list(REQUESTS))


def _write_media_and_row(entry: DemoItem, dest: Path, with_speech: bool) -> dict[str, object]:
    """Render an entry's media (if any) and return its catalogue row with media paths relative to ``dest``."""
    row: dict[str, object] = {"id": entry.id, "title": entry.title, **entry.fields}
    if entry.cover is not None:
        size = COVER_SIZE if entry.fields["kind"] == "album" else POSTER_SIZE
        row["image"] = _write_media(dest, f"media/images/{entry.id}.png",
                                    lambda: draw_cover(entry.title, entry.cover, size, seed=_seed(entry.id)))
    audio = []
    if entry.speech and with_speech:
        audio.append(_write_media(dest, f"media/audio/{entry.id}.wav", lambda: speak(entry.speech)))
    if entry.tones:
        audio.append(_write_media(dest, f"media/audio/{entry.id}-preview.wav",
                                  lambda: tone_preview(entry.tones, seed=_seed(entry.id))))
    if audio:
        row["audio"] = audio[0] if len(audio) == 1 else audio
    return row


def _write_media(dest: Path, relative: str, render: Callable[[], bytes]) -> str:
    path = dest / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_if_changed(path, render())
    return relative


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` unless the file already holds exactly it (keeps mtimes, and hash-keyed caches, stable)."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: a reader never sees half a file


def _seed(text: str) -> int:
    # crc32, not hash(): str hashes are salted per process, and rewrites must be byte-identical.
    return zlib.crc32(text.encode())


def _interactions_csv() -> str:
    """The log as CSV, one event per line in time order; each user's clock advances by 1-9 days per event."""
    events = []
    for number, (user, history) in enumerate(HISTORIES.items()):
        rng = random.Random(_seed(user))
        stamp = BASE_TIME + number * 3_607  # users start at different moments of the first day
        for item_id, rating in history:
            events.append((stamp, user, item_id, rating))
            stamp += rng.randint(1, 9) * 86_400 + rng.randint(0, 86_399)
    lines = ["user_id,item_id,timestamp,rating"]
    lines += [f"{user},{item},{stamp},{rating}" for stamp, user, item, rating in sorted(events)]
    return "\n".join(lines) + "\n"

