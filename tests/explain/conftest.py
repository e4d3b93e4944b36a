"""The demo catalog as the justifier sees it after ingest: each card carries its media text (the spoken intro as a
transcript, the poster's tagline and credit as text read off the image), so facts only the media hold are there."""

from __future__ import annotations

import pytest

from llmrec.catalog.cards import render_card
from llmrec.catalog.schema import CatalogItem
from llmrec.demo.catalog import HISTORIES, ITEMS
from llmrec.request.facets import derive_facets, item_values
from llmrec.request.lexicon import Lexicon
from llmrec.request.parser import RequestParser
from llmrec.workspace import StoredItem


def _media(kind: str, text: str) -> dict:
    return dict(kind=kind, sha256="", text=text, tags=["speech"] if kind == "audio" else [], facts=[], caption=None,
                error=None)


@pytest.fixture(scope="session")
def demo_items() -> dict[str, StoredItem]:
    out = {}
    for d in ITEMS:
        audio = [_media("audio", d.speech)] if d.speech else []
        images = [_media("image", f"{d.cover.tagline} {d.cover.credit}")] if d.cover else []
        row = CatalogItem(id=d.id, title=d.title, fields=d.fields)
        out[d.id] = StoredItem(id=d.id, title=d.title, item=row, card=render_card(row, images, audio), card_hash="",
                               embedded_hash=None, media=[])
    return out


@pytest.fixture(scope="session")
def demo_facets(demo_items):
    return derive_facets(s.item for s in demo_items.values())


@pytest.fixture(scope="session")
def demo_values(demo_items, demo_facets):
    return {i: item_values(s.item, demo_facets) for i, s in demo_items.items()}


@pytest.fixture(scope="session")
def demo_parser(demo_items, demo_facets):
    return RequestParser(Lexicon.build(demo_facets, {i: s.title for i, s in demo_items.items()}, {}, frozenset()))


@pytest.fixture(scope="session")
def demo_history(demo_items):
    """user -> (history items oldest first, ratings)."""
    return {u: ([demo_items[i] for i, _ in rows], {i: float(r) for i, r in rows}) for u, rows in HISTORIES.items()}
