"""Linking a justification to the card fields and history items it relies on, and checking it names nothing else.

Deterministic on purpose: evidence is what the audit and the user can verify, so it must never be the model's say-so.
"""

from __future__ import annotations

import re

from llmrec.cards import card_fields
from llmrec.workspace import StoredItem

_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_NUMBER = re.compile(r"\b\d{2,}\b")
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between both but
by can could did do does doing down during each few for from further had has have having he her here hers herself him
himself his how i if in into is it its itself just like more most my myself no nor not now of off on once only or other
our ours out over own same she should so some such than that the their theirs them then there these they this those
through to too under until up very was we were what when where which while who whom why will with would you your yours
item items fits fit film films movie movies option request requests recommend recommended recommendation great good
perfect enjoy enjoyed enjoys because something someone really make makes made one two title card
shows show story stories lots many much well also even just
""".split())


def content_words(text: str) -> set[str]:
    words = set()
    for w in _WORD.findall(text.lower()):
        if len(w) < 4 or w in STOPWORDS:
            continue
        words.add(w[:-1] if w.endswith("s") and len(w) > 4 else w)
    return words


def mentions(text: str, title: str) -> bool:
    """Whether ``text`` names ``title`` (whole-phrase, case-insensitive); very short titles never match by accident."""
    t = title.strip().lower()
    return len(t) >= 4 and re.search(r"(?<![a-z0-9])" + re.escape(t) + r"(?![a-z0-9])", text.lower()) is not None


def link_evidence(text: str, item: StoredItem, history: list[StoredItem]) -> list[str]:
    """``card:<field>`` for each card field sharing content words with the text, ``history:<id>`` for each named
    history item."""
    words = content_words(text)
    evidence = []
    for name, value in card_fields(item.card).items():
        if words & content_words(value):
            evidence.append(f"card:{name}")
    for h in history:
        if mentions(text, h.title):
            evidence.append(f"history:{h.id}")
    return evidence


def support_ratio(text: str, item: StoredItem, history: list[StoredItem], query: str = "") -> float:
    """Share of the text's content words found in the card, the history titles or the request (1.0 when none)."""
    words = content_words(text)
    if not words:
        return 1.0
    known = content_words(item.card) | content_words(query) | set().union(*(content_words(h.title) for h in history))
    return len(words & known) / len(words)


def justification_problems(text: str, item: StoredItem, others: list[StoredItem], history: list[StoredItem],
                           query: str = "", min_support: float = 0.0) -> list[str]:
    """Why a generated justification must not be shown (empty list: acceptable)."""
    problems = []
    if len(_WORD.findall(text)) < 4:
        problems.append("too short")
    allowed = {item.id} | {h.id for h in history}
    for other in others:
        if other.id not in allowed and mentions(text, other.title) and not mentions(item.title, other.title):
            problems.append(f"names another item: {other.title!r}")
    known = item.card + " " + " ".join(h.title for h in history)
    for number in set(_NUMBER.findall(text)):
        if number not in known:
            problems.append(f"number {number} is not in the card or history")
    if not link_evidence(text, item, history):
        problems.append("cites nothing from the card or history")
    ratio = support_ratio(text, item, history, query)
    if ratio < min_support:
        problems.append(f"only {ratio:.0%} of its words are backed by the card, history or request")
    return problems
