"""Awards: an honour (Oscar, award, prize, winner, bestseller...) that the card does not mention is *unsupported*;
a negated one ("no awards, just...") is no claim."""

from __future__ import annotations

from llmrec.claims.catalog import Catalog, whole_words
from llmrec.claims.claim import ClaimWork
from llmrec.claims.cues import negated
from llmrec.claims.grounds import Grounds
from llmrec.claims.rules.numbers import fields_with
from llmrec.claims.text import contains, norm
from llmrec.claims.vocabulary import ordered


def apply(work: ClaimWork, grounds: Grounds, catalog: Catalog) -> None:
    low = norm(work.masked)
    reported = False
    for term in ordered("awards"):
        if term not in low:
            continue
        for m in whole_words(term).finditer(low):
            if negated(low[:m.start()]):
                continue
            stem = term.split("-")[0]  # "award-winning" is backed by a card that says "award"
            if contains(grounds.card_norm, term) or contains(grounds.card_norm, stem):
                work.add("award", "supported", f"{term!r} is in the card", about=term,
                         sources=fields_with(grounds.fields, term, stem))
            elif not reported:
                work.add("award", "unsupported", f"claims an honour ({term!r}) the card does not mention",
                         about=term)
                reported = True
            break


def is_award_phrase(text: str) -> bool:
    t = norm(text)
    return any(contains(t, term) for term in ordered("awards"))
