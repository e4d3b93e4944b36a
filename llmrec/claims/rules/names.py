"""Invented names: a capitalised name (a person, a place, a title) that appears in neither the card, the history's
titles nor (in what the claim says about the request) the request is *invented*; *contradicted* when the words
around it give it a role the card gives to someone else (see ``people``).

There is no dictionary here: a capitalised word opening a sentence is a name only when it is possessive, followed by
what people do ("Pacino stars"), or shaped like no ordinary word (not in the word lists, no common English ending).
Runs of genre or award words ("an Action Crime Thriller") are the genre and award rules' business.
"""

from __future__ import annotations

import re
from functools import cache

from llmrec.claims.catalog import Catalog
from llmrec.claims.claim import ClaimWork
from llmrec.claims.cues import about_request
from llmrec.claims.grounds import Grounds
from llmrec.claims.rules.awards import is_award_phrase
from llmrec.claims.rules.numbers import fields_with
from llmrec.claims.rules.people import role_fields, role_of
from llmrec.claims.text import TOKEN, contains, norm
from llmrec.claims.verdicts import Source
from llmrec.claims.vocabulary import alternation, not_names, ordered, words

_JOINERS = (" ", "-", " - ")  # what may sit between the words of one name


@cache
def _people_verb() -> re.Pattern:
    return re.compile(r"\s+(?:" + alternation(words("people_verbs")) + r")\b", re.IGNORECASE)


def apply(work: ClaimWork, grounds: Grounds, catalog: Catalog) -> None:
    """Check capitalised spans; blank out each, and count the names the card or history backs."""
    masked = work.masked
    backing = " \n ".join([grounds.card_norm, *grounds.history_titles_norm])
    # the request backs what a claim says about the request ("you asked for Al Pacino"), never about the item
    request = norm(grounds.query) if about_request(work.text) else ""
    genres = norm(grounds.fields.get("genres") or grounds.fields.get("genre") or "")
    openers = words("stopwords") | words("generic_words") | words("clause_start")
    tokens = list(TOKEN.finditer(masked))
    first = tokens[0].start() if tokens else 0
    for span in _capitalised_runs(masked, tokens):
        parts = [t.group().rstrip("'’").removesuffix("'s").removesuffix("’s") for t in span]
        if span[0].start() == first:
            if len(span) == 1 and not name_like(span[0].group(), masked[span[0].end():]):
                continue  # sentence case ("Gentle bedtime piano"), not a name ("Tarantino's Heat")
            while parts and parts[0].lower() in openers:
                parts = parts[1:]
        while parts and parts[0].lower() in ("the", "a", "an"):
            parts = parts[1:]
        parts = [w for w in parts if w.lower() not in words("calendar")]
        if not parts:
            continue
        name = " ".join(parts)
        start, end = span[0].start(), span[-1].end()
        work.blank(start, end)
        if (contains(backing, name) or (request and contains(request, name)) or catalog.is_genre_phrase(name)
                or is_award_phrase(name) or all(catalog.is_genre_phrase(w) or contains(genres, w) for w in parts)):
            # known, or genre/award words ("an Action Crime Thriller") the genre and award rules have judged
            _known(work, grounds, name, backed=contains(backing, name), requested=bool(request))
            continue
        role = role_of(masked[:start], masked[end:])
        held_by = role_fields(role, grounds.fields) if role else {}
        if held_by:
            work.add("name", "contradicted", f"names {name!r} in a role the card gives to someone else", about=name,
                     sources=[Source(kind="card", key=k, value=v) for k, v in held_by.items()])
        else:
            work.add("name", "unsupported", f"{name!r} appears nowhere in the card, the history or the request",
                     about=name)


def _known(work: ClaimWork, grounds: Grounds, name: str, backed: bool, requested: bool) -> None:
    if not backed:
        if requested and contains(norm(grounds.query), name):
            work.add("name", "supported", f"{name!r} is in the request", about=name,
                     sources=[Source(kind="request", value=grounds.query)])
        return  # a genre or award phrase
    work.names_backed += 1
    if contains(grounds.card_norm, name):
        work.add("name", "supported", f"{name!r} is in the card", about=name,
                 sources=fields_with(grounds.fields, name))
        return
    history = [Source(kind="history", key=h, value=t) for h, t in grounds.history.items() if contains(norm(t), name)]
    if history:
        work.add("name", "supported", f"{name!r} is in the user's history", about=name, sources=history)


def _capitalised_runs(masked: str, tokens: list[re.Match]) -> list[list[re.Match]]:
    """Runs of capitalised words joined by a space or a hyphen: one name each ("Robert De Niro")."""
    spans: list[list[re.Match]] = []
    for t in tokens:
        if not t.group()[0].isupper():
            continue
        if spans and masked[spans[-1][-1].end():t.start()] in _JOINERS:
            spans[-1].append(t)
        else:
            spans.append([t])
    return spans


def name_like(word: str, after: str) -> bool:
    """Whether a capitalised word opening a sentence is a name, not sentence case: a possessive ("Tarantino's"),
    followed by what people do ("Pacino stars"), or shaped like no ordinary word (not in the word lists, no common
    English ending, not hyphenated, longer than three letters)."""
    base = word.rstrip("'’").removesuffix("'s").removesuffix("’s")
    if base.lower() in not_names():
        return False
    if base != word.rstrip("'’") or _people_verb().match(after):
        return True
    low = base.lower()
    return len(low) > 3 and "-" not in low and not low.endswith(ordered("english_endings"))
