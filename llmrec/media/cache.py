"""What a media file says, described once per (bytes, settings) and read back from a cache after that.

Ingest and the external audit (``llmrec audit --explanations``) both describe media here, through the same cache, so
the words an audit checks a claim against are the words the ranker and justifier read from the item's card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from llmrec.errors import MediaError
from llmrec.media.describer import MediaDescriber, MediaText
from llmrec.media.files import open_confined


class MediaCache(Protocol):
    """Where described media are kept, by file sha256 and describer signature (``Workspace`` is one)."""

    def cached_media(self, sha256: str, signature: str) -> dict | None: ...

    def cache_media(self, sha256: str, signature: str, kind: str, result: dict) -> None: ...


class MemoryMediaCache:
    """A cache for one run, for describing media without a workspace to keep them in."""

    def __init__(self):
        self._results: dict[tuple[str, str], dict] = {}

    def cached_media(self, sha256: str, signature: str) -> dict | None:
        return self._results.get((sha256, signature))

    def cache_media(self, sha256: str, signature: str, kind: str, result: dict) -> None:
        self._results[(sha256, signature)] = result


def cached_media_text(describer: MediaDescriber, cache: MediaCache, path: Path, kind: str, roots: list[Path],
                      max_bytes: int) -> tuple[dict, Literal["cache", "described", "refused"]]:
    """``(MediaText fields, where they came from)`` for one file: read back from the cache, described now (possibly
    with ``error`` set by the describer), or refused before it was opened (``error`` says why); never raises.

    The file is opened once, confined to ``roots`` and bounded in size (``llmrec.media.files``): a path that is
    refused is never opened, and the bytes hashed for the cache are the bytes described. A result cut short by a
    time limit is not cached (it depends on how busy the machine was).
    """
    try:
        with open_confined(path, roots, max_bytes) as media:
            sha = media.sha256()
            signature = describer.signature(kind)
            cached = cache.cached_media(sha, signature)
            if cached is not None:
                return cached, "cache"
            describe = describer.describe_image if kind == "image" else describer.describe_audio
            result = describe(media).model_dump(mode="json")
            if not result.get("time_limited"):
                cache.cache_media(sha, signature, kind, result)
            return result, "described"
    except MediaError as e:
        return MediaText(kind=kind, sha256="", error=str(e)).model_dump(mode="json"), "refused"
