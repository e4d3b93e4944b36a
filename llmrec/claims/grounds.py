"""What a claim is checked against: the item's card (its fields, media text lines included), the user's history, the
request and the candidates. The justifier and the audit build the same ``Grounds`` for the same recommendation, so
they reach the same verdict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from llmrec.catalog.cards import card_fields
from llmrec.claims.text import Stems, norm

if TYPE_CHECKING:
    from llmrec.workspace import StoredItem

# Card lines the ingest writes for media ("Image 1: text in image: ...", "Audio 1: transcript: ..."): fields like any
# other for checking, told apart for reporting where a fact came from.
MEDIA_FIELD_PREFIXES = ("image ", "audio ")


@dataclass
class Grounds:
    """Everything a justification of one item may rest on.

    ``history``: id -> title of the items the user really saw (oldest first); ``history_cards``: id -> card of the
    same items, for claims about the user's taste; ``candidates``: ids the system chose among (None: unknown, then
    only the item and the history may be named); ``query``: the request, which backs only what a claim says about the
    request ("you asked for...").
    """

    item_id: str
    title: str
    card: str
    history: dict[str, str] = field(default_factory=dict)
    history_cards: dict[str, str] = field(default_factory=dict)
    candidates: set[str] | None = None
    query: str = ""

    @classmethod
    def from_items(cls, item: "StoredItem", history: Iterable["StoredItem"] = (),
                   candidates: Iterable["StoredItem"] | None = None, query: str = "") -> "Grounds":
        """The grounds of a served item: its stored card, the user's history items and the candidates it was
        chosen among."""
        history = list(history)
        return cls(item_id=item.id, title=item.title, card=item.card, history={h.id: h.title for h in history},
                   history_cards={h.id: h.card for h in history},
                   candidates=None if candidates is None else {c.id for c in candidates} | {item.id},
                   query=query or "")

    def for_item(self, item_id: str, title: str, card: str) -> "Grounds":
        """The same user, request and candidates, another item: what a claim would be checked against had it been
        said of that item (how many candidates a fact holds for)."""
        return replace(self, item_id=item_id, title=title, card=card)

    # ---- parsed once, shared by every rule and every claim ------------------------------------------------------
    @cached_property
    def fields(self) -> dict[str, str]:
        """``{field name: value}`` of the card, lower-cased names; media lines appear as ``image 1``, ``audio 1``."""
        return card_fields(self.card)

    @cached_property
    def card_norm(self) -> str:
        return norm(self.card)

    @cached_property
    def card_stems(self) -> Stems:
        return Stems(self.card)

    @cached_property
    def field_stems(self) -> dict[str, Stems]:
        return {name: Stems(value) for name, value in self.fields.items()}

    @cached_property
    def history_title_stems(self) -> dict[str, Stems]:
        return {h: Stems(title) for h, title in self.history.items()}

    @cached_property
    def history_card_stems(self) -> dict[str, Stems]:
        return {h: Stems(card) for h, card in self.history_cards.items()}

    @cached_property
    def query_stems(self) -> Stems:
        return Stems(self.query)

    @cached_property
    def history_titles_norm(self) -> list[str]:
        return [norm(t) for t in self.history.values()]


def is_media_field(name: str) -> bool:
    """Whether a card field holds text read off the item's media (an image's text or caption, a transcript)."""
    return name.startswith(MEDIA_FIELD_PREFIXES)
