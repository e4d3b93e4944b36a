"""Item cards: the single text an item becomes after media are turned into words.

The card is what gets embedded, what the ranker and justifier read, and what the audit checks claims against, so one
template (``prompts/item_card.j2``) defines it everywhere.
"""

from __future__ import annotations

import hashlib

from llmrec.catalog.schema import CatalogItem
from llmrec.prompts import PromptLibrary, default_library

CARD_TEMPLATE = "item_card.j2"


def render_card(item: CatalogItem, images: list[dict], audio: list[dict], library: PromptLibrary | None = None) -> str:
    """Render the card of one item from its row and the text of its media (dicts of MediaText fields)."""
    library = library or default_library()
    text = library.render(CARD_TEMPLATE, item=item, images=images, audio=audio).text
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())


def card_hash(card: str) -> str:
    return hashlib.sha256(card.encode("utf-8")).hexdigest()[:32]


def card_fields(card: str) -> dict[str, str]:
    """Split a card back into ``{field name: value}`` (lower-cased names), for evidence and audit lookups."""
    fields: dict[str, str] = {}
    for line in card.splitlines():
        name, sep, value = line.partition(":")
        if sep and name and len(name) <= 40:
            fields[name.strip().lower()] = value.strip()
    return fields


def card_summary(card: str, limit: int) -> str:
    """A one-line digest of a card for lists of options: every field except the title, truncated."""
    parts = []
    for line in card.splitlines()[1:]:
        parts.append(line.strip())
    s = " | ".join(parts)
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"
