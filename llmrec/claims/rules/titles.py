"""Titles: a catalog title a claim names must be the item itself, a history item the user really saw, or one of the
candidates. Naming any other item is a *non-candidate mention*; "you loved X" for an X the user never saw is an
unsupported *history claim*; naming another candidate is allowed (the audit) but reported, so a stricter caller (the
justifier) can refuse it.

A title counts only written as one (capitalised, exact when short, a one-word title neither opening a sentence nor
inside a longer name: "Speed and love..." names no film "Speed"), and not when the item's own card uses the same
words ("set in Paris" is the card's fact, not the film "Paris").
"""

from __future__ import annotations

from llmrec.claims.catalog import Catalog, whole_words
from llmrec.claims.claim import ClaimWork
from llmrec.claims.cues import about_user, says_user_had
from llmrec.claims.grounds import Grounds
from llmrec.claims.text import contains, norm, title_variants, written_as_title
from llmrec.claims.verdicts import Source


def apply(work: ClaimWork, grounds: Grounds, catalog: Catalog) -> None:
    """Check the titles a claim names and blank them out."""
    history_talk = about_user(work.text)
    own = norm(grounds.title)
    for item_id, variant in catalog.title_matches(work.text):
        for m in whole_words(variant).finditer(work.masked):
            if item_id != grounds.item_id:
                start, end = work.offset + m.start(), work.offset + m.end()
                if not written_as_title(work.source, start, end, variant):
                    continue
                if item_id not in grounds.history and contains(grounds.card_norm, variant):
                    continue
            work.blank(m.start(), m.end())
            if item_id in work.named:
                continue
            work.named.append(item_id)
            title = catalog.titles[item_id]
            if item_id == grounds.item_id or contains(own, title):
                continue
            _named_other(work, grounds, item_id, title, history_talk)
    variants = [v for v in title_variants(grounds.title) if v]
    for variant in variants:  # the item's own title, however it is cased
        for m in whole_words(variant).finditer(work.masked):
            work.blank(m.start(), m.end())
    if grounds.item_id not in grounds.history and any(says_user_had(work.text, v) for v in variants):
        # "like The Bee Counters, which you enjoyed" said of The Bee Counters itself: a model copying the shape of
        # a history reason onto the item; the user never saw it.
        work.add("history", "unsupported", f"says the user already enjoyed {grounds.title!r}, the item itself, "
                 "which is not in their history", about=grounds.title,
                 evidence=[f"history: {', '.join(grounds.history.values()) or '(none)'}"])


def _named_other(work: ClaimWork, grounds: Grounds, item_id: str, title: str, history_talk: bool) -> None:
    if item_id in grounds.history:
        work.add("history", "supported", f"names {title!r}, which is in the user's history", about=title,
                 sources=[Source(kind="history", key=item_id, value=title)])
        return
    if history_talk:
        work.add("history", "unsupported",
                 f"speaks of the user and {title!r}, but that item is not in their history", about=title,
                 evidence=[f"history: {', '.join(grounds.history.values()) or '(none)'}"])
    candidates = grounds.candidates if grounds.candidates is not None else set()
    if item_id not in candidates:
        known_id = "" if item_id.startswith("title:") else f" ({item_id})"  # a catalog given by titles alone
        where = "" if grounds.candidates is not None else " (item and history only)"
        work.add("non-candidate", "unsupported",
                 f"names {title!r}{known_id}, which was not among the candidates{where}", about=title)
    elif not history_talk:
        work.add("title", "supported", f"names another candidate, {title!r}", about=title,
                 sources=[Source(kind="candidate", key=item_id, value=title)])

