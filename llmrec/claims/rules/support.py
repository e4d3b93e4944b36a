"""Support by word overlap, for what the other rules leave open: the share of a claim's content words (stemmed)
found in the card, in the history (titles always, cards when the claim is about the user) or, when the claim is
about the request, in the request. Verified names count as found words ("Heat stars Al Pacino")."""

from __future__ import annotations

from dataclasses import dataclass

from llmrec.claims.claim import ClaimWork
from llmrec.claims.cues import about_request, about_user
from llmrec.claims.grounds import Grounds
from llmrec.claims.text import content_terms
from llmrec.claims.verdicts import Source


@dataclass
class Support:
    share: float            # grounded / terms, names included
    terms: int              # content words left to check, plus verified names
    sources: list[Source]   # where each grounded word was found


def measure(work: ClaimWork, grounds: Grounds) -> Support | None:
    """The overlap of what is left of the claim once the rules blanked what they settled; None when nothing is."""
    terms = content_terms(work.masked)
    if not terms:
        return None
    user, request = about_user(work.text), about_request(work.text) and bool(grounds.query)
    found: dict[tuple[str, str], list[str]] = {}  # (kind, key) -> words found there
    grounded = 0
    for t in terms:
        where = [("card", name) for name, s in grounds.field_stems.items() if s.has(t)]
        if not where and not grounds.card_stems.has(t):
            where = [("history", h) for h, s in grounds.history_title_stems.items() if s.has(t)]
            if user:
                where += [("history", h) for h, s in grounds.history_card_stems.items()
                          if s.has(t) and ("history", h) not in where]
            if not where and request and grounds.query_stems.has(t):
                where = [("request", "")]
        elif not where:
            where = [("card", "")]  # in the card's text outside any field line
        if where:
            grounded += 1
            for key in where:
                found.setdefault(key, []).append(t)
    names = work.names_backed
    sources = [_source(kind, key, matched, grounds) for (kind, key), matched in found.items() if key or
               kind == "request"]
    return Support(share=(grounded + names) / (len(terms) + names), terms=len(terms) + names, sources=sources)


def _source(kind: str, key: str, matched: list[str], grounds: Grounds) -> Source:
    if kind == "history":
        return Source(kind="history", key=key, value=grounds.history.get(key, ""), matched=matched)
    if kind == "request":
        return Source(kind="request", value=grounds.query, matched=matched)
    return Source(kind="card", key=key, matched=matched)
