"""What a justification may draw on for one request: the request as read, the user's history and ratings, the
candidates the items were chosen among, every held item's facet values, and (with a collaborative model) who else
chose what. Built once per request and shared by every item's reasons."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from llmrec.catalog.cards import card_fields
from llmrec.catalog.schema import CatalogItem
from llmrec.claims.grounds import is_media_field
from llmrec.request.conditions import RequestInterpretation
from llmrec.request.facets import CatalogFacets, derive_facets, item_values
from llmrec.workspace import StoredItem

# (item id, history ids) -> {history id: people who chose both}; only given where a collaborative model exists
CoOccurrence = Callable[[str, Sequence[str]], Mapping[str, int]]
LIKED_RATING = 4.0  # a rating at or above this (on a 5-point scale) counts as enjoyed


@dataclass
class JustificationContext:
    """The inputs every item's reasons share within one request."""

    query: str
    items: list[StoredItem]
    candidates: list[StoredItem]
    history: list[StoredItem]
    interpretation: RequestInterpretation | None = None
    ratings: Mapping[str, float] = field(default_factory=dict)   # history id -> the user's rating
    facets: CatalogFacets | None = None
    values: Mapping[str, Mapping] | None = None                  # item id -> facet values (``item_values``)
    cooccurrence: CoOccurrence | None = None
    collaborative: frozenset[str] = frozenset()  # ids the collaborative model put among the candidates

    @cached_property
    def held(self) -> dict[str, StoredItem]:
        return {s.id: s for s in [*self.history, *self.candidates, *self.items]}

    @cached_property
    def catalog_facets(self) -> CatalogFacets:
        """The workspace's facets, or ones derived from the held items (a caller without a facet index)."""
        return self.facets if self.facets is not None and self.facets.facets else \
            derive_facets(catalog_item(s) for s in self.held.values())

    def values_of(self, item: StoredItem) -> Mapping:
        if self.values is not None and item.id in self.values:
            return self.values[item.id]
        return self._derived.setdefault(item.id, item_values(catalog_item(item), self.catalog_facets))

    @cached_property
    def _derived(self) -> dict[str, Mapping]:
        return {}

    @cached_property
    def others(self) -> dict[str, list[StoredItem]]:
        """For each item, the other candidates (what "few share it" is counted among)."""
        pool = {c.id: c for c in [*self.candidates, *self.items]}
        return {it.id: [c for i, c in pool.items() if i != it.id] for it in self.items}

    @cached_property
    def liked(self) -> list[StoredItem]:
        """History items the user enjoyed, best first (rated at or above ``LIKED_RATING``, or all when the log has
        no ratings), newest first among equals."""
        order = {h.id: n for n, h in enumerate(self.history)}
        rated = [h for h in self.history if h.id in self.ratings]
        if not rated:
            return list(reversed(self.history))
        good = [h for h in rated if self.ratings[h.id] >= LIKED_RATING]
        return sorted(good, key=lambda h: (-self.ratings[h.id], -order[h.id]))

    @property
    def personal(self) -> bool:
        """The request has text or a history: a justification should speak to one of them."""
        return bool(self.query.strip() or self.history)


def catalog_item(item: StoredItem) -> CatalogItem:
    """The item's catalog row, or one read back from its card (items held without their row)."""
    if item.item is not None:
        return item.item
    fields = {k: v for k, v in card_fields(item.card).items() if k != "title" and not is_media_field(k)}
    return CatalogItem(id=item.id, title=item.title, fields={_field_name(k): v for k, v in fields.items()})


def _field_name(card_key: str) -> str:
    return re.sub(r"\s+", "_", card_key)


def card_key(field_name: str) -> str:
    """The card's name of a catalog field (``content_advice`` is written "Content advice", read "content advice")."""
    return re.sub(r"[_\s]+", " ", field_name).strip().lower()
