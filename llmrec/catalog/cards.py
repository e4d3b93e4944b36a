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


# Fields whose value reads the same without its name in a list of options (a kind, a year, genres, a length with its
# unit, free text): the ranking prompt shows them bare. Field names cost tokens in every option of every prompt.
BARE_FIELDS = frozenset({"kind", "year", "genres", "genre", "runtime", "duration", "length", "description"})


def card_summary(card: str, limit: int) -> str:
    """A one-line digest of a card for lists of options: every field except the title, truncated to ``limit``
    characters. Self-evident fields show their value alone and the others their name in lower case ("film; 2019;
    director Marta Kowalczyk; Drama, Period; 138 min; A pianist…"): a ranking prompt lists twenty of these, and
    "Kind: … | Year: … | Director: …" spent a third of each option's tokens on names."""
    parts = []
    for line in card.splitlines()[1:]:
        name, sep, value = line.partition(":")
        key = name.strip().lower()
        if sep and key in BARE_FIELDS:
            parts.append(value.strip())
        elif sep and key and len(key) <= 40 and " " not in key:
            parts.append(f"{key} {value.strip()}")
        else:  # media lines ("Image 1: caption: ...") keep their own shape
            parts.append(line.strip())
    s = "; ".join(p for p in parts if p)
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"
