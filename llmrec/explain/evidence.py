"""Linking a justification to the card fields and history items it relies on, and checking it names nothing else.

Deterministic on purpose: evidence is what the audit and the user can verify, so it must never be the model's say-so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from llmrec.cards import card_fields
from llmrec.workspace import StoredItem

_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
# A number as a whole token ("9.5", "2", "1990s", "'90s"), never a piece of one ("95" in "1995", "3" in "3D").
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(s)?(?![\w])")
# MovieLens files titles with the article moved to the end ("Godfather, The"); prose writes "The Godfather".
_TRAILING_ARTICLE = re.compile(r"^(.+),\s+(the|a|an)$", re.IGNORECASE)
# Where a justification speaks of the request, not the item: only there may the request's words back it.
REQUEST_CUE = re.compile(r"\b(?:you|you['’]ve|you['’]re|you['’]d)\s+(?:\w+\s+)?(?:asked|ask|requested|wanted|"
                         r"want|were|are|looking|searching|mentioned|said|like|liked|love|loved|enjoy|enjoyed|"
                         r"prefer|fancy|crave|craving)\b|\byour\s+(?:\w+\s+)?(?:request|query|search|question|"
                         r"taste|mood)\b|\b(?:requested|asked for)\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[.!?;:,]\s+|\s[—–-]\s")
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


def title_variants(title: str) -> set[str]:
    """The ways prose writes a title: as stored, and "The Godfather" for a catalog's "Godfather, The"."""
    t = title.strip()
    m = _TRAILING_ARTICLE.match(t)
    return {t, f"{m.group(2)} {m.group(1)}"} if m else {t}


def mentions(text: str, title: str) -> bool:
    """Whether ``text`` names ``title`` (whole-phrase, case-insensitive); very short titles never match by accident."""
    low = text.lower()
    for variant in title_variants(title):
        t = variant.lower()
        if len(t) >= 4 and re.search(r"(?<![a-z0-9])" + re.escape(t) + r"(?![a-z0-9])", low) is not None:
            return True
    return False


def names_title(text: str, title: str, card: str = "") -> bool:
    """Whether ``text`` names ``title`` the way a title is written: capitalised or opening with a digit ("12 Angry
    Men"), exactly as spelled when short ("Up", not "up"), and, for a one-word title ("Up", "Heat", "Paris"), neither
    opening a sentence nor part of a longer name ("Ed Harris"). A title the card itself contains ("set in Paris") is
    the card's word, not a mention."""
    for variant in title_variants(title):
        pattern = r"(?<![\w'’-])" + re.escape(variant) + r"(?![\w'’-])"
        if len(variant) < 2 or re.search(pattern, card, re.IGNORECASE):
            continue
        for m in re.finditer(pattern, text, re.IGNORECASE):
            written = m.group()[0].isupper() or m.group()[0].isdigit()
            if not written or (len(variant) < 4 and m.group() != variant):
                continue
            if " " not in variant:
                before, after = text[:m.start()], text[m.end():]
                previous = re.search(r"([A-Z][\w'’-]*)\s+$", before)
                if (re.search(r"(?:^|[.!?:;\"“(]|\s[—–-])\s*$", before) or re.match(r"\s+[A-Z]", after)
                        or (previous and previous.group(1).lower() not in STOPWORDS)):
                    continue
            return True
    return False


def number_problems(text: str, known: str, query: str = "") -> list[str]:
    """Numbers in ``text`` that are not whole numbers of ``known``; a decade ("1990s", "90s") needs a year in it.
    A clause about the request ("you asked for under 2 hours") may also take its numbers from ``query``."""
    problems = []
    for clause in _CLAUSE_BREAK.split(text):
        source = known + "\n" + query if REQUEST_CUE.search(clause) else known
        numbers = {n for n, _ in _NUMBER.findall(source)}
        years = {int(n) for n in numbers if len(n) == 4 and n.isdigit()}
        for number, decade in _NUMBER.findall(clause):
            if decade and number.isdigit() and len(number) in (2, 4) and number.endswith("0"):
                tens, century = int(number[-2:]), number[:2] if len(number) == 4 else None
                if not any(y % 100 - y % 10 == tens and century in (None, str(y)[:2]) for y in years):
                    problems.append(f"the {number}s are not the card's decade")
            elif number not in numbers:
                problems.append(f"number {number} is not in the card or history")
    return list(dict.fromkeys(problems))


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
    """Share of the text's content words found in the card or the history titles (1.0 when none). The request's
    words count only in clauses about the request ("just what you asked for"): echoing it says nothing of the item."""
    words = content_words(text)
    if not words:
        return 1.0
    known = content_words(item.card) | set().union(*(content_words(h.title) for h in history))
    about_request = set().union(*(content_words(c) for c in _CLAUSE_BREAK.split(text) if REQUEST_CUE.search(c)))
    known |= about_request & content_words(query)
    return len(words & known) / len(words)


def justification_problems(text: str, item: StoredItem, others: list[StoredItem], history: list[StoredItem],
                           query: str = "", min_support: float = 0.0,
                           catalog_titles: Iterable[str] = ()) -> list[str]:
    """Why a generated justification must not be shown (empty list: acceptable).

    ``others`` are the candidates; ``catalog_titles``, when given, every title of the catalog, so that naming an
    item that was never a candidate is caught too.
    """
    problems = []
    if len(_WORD.findall(text)) < 4:
        problems.append("too short")
    allowed = {item.id} | {h.id for h in history}
    checked = set()  # candidates' titles: the catalog pass leaves them to the candidate rule above
    for other in others:
        if other.id in allowed or mentions(item.title, other.title):
            continue
        if mentions(text, other.title) or (len(other.title.strip()) < 4 and names_title(text, other.title)):
            problems.append(f"names another item: {other.title!r}")
        checked.add(other.title)
    own = {item.title, *(h.title for h in history)}
    low = text.lower()
    for title in catalog_titles:
        # a substring test first: a catalog holds thousands of titles
        if title in checked or title in own or not any(v.lower() in low for v in title_variants(title)):
            continue
        if not any(mentions(t, title) for t in own) and names_title(text, title, item.card):
            problems.append(f"names an item that was not among the candidates: {title!r}")
            checked.add(title)
    problems += number_problems(text, item.card + "\n" + "\n".join(h.title for h in history), query)
    if not link_evidence(text, item, history):
        problems.append("cites nothing from the card or history")
    ratio = support_ratio(text, item, history, query)
    if ratio < min_support:
        problems.append(f"only {ratio:.0%} of its words are backed by the card, history or request")
    return problems
