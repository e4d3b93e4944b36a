"""Genres: a genre word the card's genres (and text) lack is *contradicted*, unless the claim is about the user and
their history's genres have it ("you love horror").

Some genre words are ordinary words in prose ("outer space", "a family inherits"): those, and genre words only the
catalog uses, count as genre claims only right before a kind noun ("a family film") or after "genre". A negated
genre ("not a horror film") is no claim of that genre.
"""

from __future__ import annotations

import re

from llmrec.catalog.cards import card_fields
from llmrec.claims.catalog import Catalog, whole_words
from llmrec.claims.claim import ClaimWork
from llmrec.claims.cues import about_user, negated
from llmrec.claims.grounds import Grounds
from llmrec.claims.text import contains, norm
from llmrec.claims.verdicts import Source
from llmrec.claims.vocabulary import words

_GENRE_BEFORE = re.compile(r"genres?:?\s+(?:of\s+)?$")
_NEXT_WORD = re.compile(r"[\s-]+([\w-]+)")


def apply(work: ClaimWork, grounds: Grounds, catalog: Catalog) -> None:
    key = next((k for k in ("genres", "genre") if grounds.fields.get(k)), None)
    if key is None and "genres" not in grounds.fields and "genre" not in grounds.fields:
        return  # a card without genres cannot contradict one
    value = grounds.fields.get(key, "") if key else ""
    card_source = Source(kind="card", key=key or "genres", value=value)
    card_genres = catalog.normalise_genres(value) + " | " + catalog.normalise_genres(grounds.card_norm)
    history_genres = {h: catalog.normalise_genres(card_fields(c).get("genres", ""))
                      for h, c in grounds.history_cards.items()}
    talk_of_user = about_user(work.masked)
    low = norm(work.masked)
    seen = set()
    for term, start, _ in genre_terms(low, catalog):
        canonical = catalog.canonical_genre(term)
        if canonical in seen or negated(low[:start]):
            continue
        seen.add(canonical)
        parts = canonical.split() if canonical == "romance comedy" else [canonical]
        if all(contains(card_genres, p) for p in parts):
            work.add("genre", "supported", f"{term!r} matches the card", about=term, sources=[card_source])
            continue
        backing = [h for h, g in history_genres.items() if all(contains(g, p) for p in parts)]
        if talk_of_user and backing:
            work.add("genre", "supported", f"{term!r} describes the user's history", about=term,
                     sources=[Source(kind="history", key=h, value=grounds.history.get(h, "")) for h in backing])
        else:
            work.add("genre", "contradicted", f"calls it {term!r}; the card's genres are {value!r}", about=term,
                     sources=[card_source])


def genre_terms(low: str, catalog: Catalog) -> list[tuple[str, int, int]]:
    """Genre terms in a normalised claim: unambiguous genre words anywhere, ambiguous ones in genre position;
    longest first, so "folk horror" is one term, not two."""
    out, taken = [], [False] * len(low)
    kind_nouns = words("kind_nouns")
    for term in catalog.genre_terms:
        if term not in low:
            continue
        for m in whole_words(term).finditer(low):
            if any(taken[m.start():m.end()]):
                continue
            if term in catalog.prose_genres or catalog.canonical_genre(term) in catalog.prose_genres:
                nxt = _NEXT_WORD.match(low[m.end():])
                if not (nxt and nxt.group(1) in kind_nouns) and not _GENRE_BEFORE.search(low[:m.start()]):
                    continue
            for i in range(m.start(), m.end()):
                taken[i] = True
            out.append((term, m.start(), m.end()))
    return sorted(out, key=lambda t: t[1])
