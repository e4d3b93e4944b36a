"""Reasons before words: what llmrec may say about why an item answers a request, typed, each with its source.

A justification states one or two of these, never the card itself. Each reason is a fact the claim engine can check
(it comes from the item's card, the user's history or the interaction log) and names where it comes from, so the
evidence list of a justification is exactly the reasons it states:

- ``request``: the request's conditions the item meets (``Condition.test`` on its facet values) and the request's
  words found in a card field or in its media text (an audio transcript, the text read off an image, image tags);
- ``history``: history items that share a genre, a person, a show or a tag with it (the best-rated first);
- ``collaborative``: people who chose a history item also chose it (the interaction log), only where the
  collaborative model put it among the candidates;
- ``distinct``: a fact of the item that few of the other candidates share;
- ``rating``: its rating, when the card states one;
- ``item``: what it is (kind, genres, year), the last resort when nothing above applies.

``gather.candidate_reasons`` builds them, ``scoring.choose`` keeps the best, ``realise`` turns them into a sentence.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ReasonKind = Literal["request", "history", "collaborative", "distinct", "rating", "item"]
# Where a quoted piece of card text comes from: a text field, an audio transcript, text read off an image, image tags.
QuoteSource = Literal["field", "audio", "image text", "image tags", "audio tags"]


class Fact(BaseModel):
    """One value of one card field, as the sentence states it ("horror", "Lena Marsh", "1984")."""

    field: str = Field(description="the card field (lower case, as ``card_fields`` names it)")
    facet: str = Field("", description="the facet it is a value of (the catalog field's own name)")
    role: str = Field(description="how a sentence uses it: kind, genre, year, minutes, rating, direct, cast, write, "
                      "host, artist, author, show, tag, value")
    value: str = Field(description="the value as the card writes it")
    share: float = Field(1.0, description="share of the other candidates that have it too (1: all of them)")


class Quote(BaseModel):
    """A piece of card text that holds the request's words: a clause of a field, or of the item's media text."""

    field: str
    source: QuoteSource
    text: str
    matched: list[str] = Field(default_factory=list, description="the request's words found in it")

    @property
    def media(self) -> bool:
        return self.source != "field"


class Reason(BaseModel):
    """One candidate reason for recommending an item, with where it comes from."""

    kind: ReasonKind
    facts: list[Fact] = Field(default_factory=list, description="card facts the reason states")
    quote: Quote | None = None
    asked: str = Field("", description="request: the words of the request the item answers")
    history: list[str] = Field(default_factory=list, description="history item ids it names (best first)")
    history_titles: list[str] = Field(default_factory=list)
    rated_highly: bool = Field(False, description="history: every named item was rated at or above the user's "
                               "usual")
    co_users: int = Field(0, description="collaborative: people who chose both the history item and this one")
    score: float = Field(0.0, description="relevance, from ``scoring``: the highest are stated")
    media_only: bool = Field(False, description="request: its deciding words are only in the item's media text")

    @property
    def evidence(self) -> list[str]:
        """What the reason rests on, as a justification's evidence list names it: ``card:<field>`` (media lines
        included: ``card:audio 1``), ``history:<id>``, ``collaborative:<history id>``."""
        out = [f"card:{f.field}" for f in self.facts]
        if self.quote is not None:
            out.append(f"card:{self.quote.field}")
        prefix = "collaborative" if self.kind == "collaborative" else "history"
        out += [f"{prefix}:{h}" for h in self.history]
        return list(dict.fromkeys(out))

    @property
    def specific(self) -> bool:
        """States something at most a few candidates share (a third of the others or fewer)."""
        return self.quote is not None or any(f.share <= SPECIFIC_SHARE for f in self.facts)


SPECIFIC_SHARE = 1 / 3
