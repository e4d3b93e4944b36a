"""A small, original, multimodal demo catalogue: films, podcast episodes, albums and books, with an interaction log.

The catalogue is data (``data/catalog.json``: items, who rated what, the demo's requests); ``llmrec.demo.writer``
renders it. Everything is written at demo time rather than shipped: posters and album covers are drawn with Pillow,
podcast intros are spoken by espeak-ng, album previews are tones synthesised with numpy. The repository therefore
carries no binary media and no third-party content (every title, person, plot and voice line is invented), and a fresh
machine can run the demo offline. The output is deterministic, so a rewrite is byte-identical and caches keyed by
file hash stay valid.

Two items keep a fact only in their media (``HIDDEN_FACTS``): a podcast whose description is a bare episode number
while its spoken intro names the subject, and a film whose poster tagline says what the vague description does not.
They exist so the demo shows that turning media into text changes what can be recommended.

The histories are hand-written (item id, rating 1-5) in the order each user met the items. Tastes are coherent so a
collaborative model has something to learn: ivan never saw the two newest horror films, which request 2 expects.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Data(BaseModel):
    # Frozen: the catalogue is loaded once and shared; forbid: a typo in the data file fails loudly.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DemoRequest(BaseModel):
    """A recommendation request the demo runs, and what it is meant to show."""

    query: str
    user_id: str | None = None
    why: str = Field(description="what this request demonstrates")
    expected_ids: list[str] = Field(default_factory=list,
                                    description="items a good answer ranks at the top (for checking the demo)")


class DemoCatalog(BaseModel):
    """Where ``write_demo_catalog`` put the catalogue and the log, and the requests to run against them."""

    catalog: Path
    interactions: Path
    requests: list[DemoRequest]


class HiddenFact(_Data):
    """A fact an item carries only in one medium; its words appear in none of the item's text fields."""

    medium: Literal["audio", "image"]
    phrase: str  # as spoken or printed
    words: tuple[str, ...]  # lower-case stems a text-only recommender would need to see


class Cover(_Data):
    """What a poster or album cover shows: the title plus a tagline and a credit line, in a theme's colours."""

    tagline: str
    theme: str  # a palette name in llmrec.demo.covers.THEMES
    credit: str = ""


class DemoItem(_Data):
    """One catalogue row's text, plus the media to render for it."""

    id: str
    title: str
    fields: dict[str, str]  # text fields, in the order they are written
    cover: Cover | None = None
    speech: str | None = None  # a spoken intro, rendered by espeak-ng
    tones: str | None = None  # a tone-preview style in llmrec.demo.tones.TONE_STYLES


class _CatalogData(_Data):
    about: str
    hidden_facts: dict[str, HiddenFact]
    items: tuple[DemoItem, ...]
    histories: dict[str, tuple[tuple[str, int], ...]]
    requests: tuple[DemoRequest, ...]


@lru_cache(maxsize=1)
def _data() -> _CatalogData:
    text = resources.files("llmrec.demo").joinpath("data", "catalog.json").read_text(encoding="utf-8")
    return _CatalogData.model_validate_json(text)


HIDDEN_FACTS: dict[str, HiddenFact] = _data().hidden_facts
ITEMS: tuple[DemoItem, ...] = _data().items
HISTORIES: dict[str, tuple[tuple[str, int], ...]] = _data().histories
REQUESTS: tuple[DemoRequest, ...] = _data().requests
