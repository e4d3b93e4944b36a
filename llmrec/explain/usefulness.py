"""What makes a justification worth reading, measured: the audit and ``eval/justifications.py`` share these.

- **field dump**: it reads as card fields pasted together ("Whisper Lake — Genres: Horror; Kind: film") instead of
  a sentence;
- **personal**: it states something of this request (a request word that is really on the card, or a condition's
  value the item has) or of this person (a history item it names, truthfully);
- **specific**: it states a fact (a supported claim) that holds for at most a third of the other candidates;
- **media**: for an item whose request words are only in its media text (an audio transcript, an image's text or
  tags), it says one of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llmrec.catalog.cards import card_fields
from llmrec.claims import ClaimChecker, Grounds, Verdict
from llmrec.claims.grounds import is_media_field
from llmrec.claims.text import Stems, content_terms
from llmrec.explain.reasons import SPECIFIC_SHARE
from llmrec.request.conditions import RequestInterpretation
from llmrec.request.facets import value_key

_DUMP_MARKERS = re.compile(r"\[card facts\]|\s[—–-]\s*\w[\w ]{0,30}:\s", re.IGNORECASE)


def is_field_dump(text: str, card: str) -> bool:
    """Whether ``text`` pastes card fields: a field's label followed by a colon ("Genres: Horror"), the old
    fallback's marker, or "<title> — <label>:"."""
    if _DUMP_MARKERS.search(text):
        return True
    names = [n for n in card_fields(card) if n != "title" and not is_media_field(n)]
    return any(re.search(r"(?:^|[;,.|—–]\s*)" + re.escape(n) + r"\s*:\s", text, re.IGNORECASE) for n in names)


def is_personal(verdict: Verdict, grounds: Grounds, interpretation: RequestInterpretation | None = None) -> bool:
    """Whether a supported claim names one of the user's history items, or states a request word (or a met
    condition's value) that the item's card really has."""
    supported = [c for c in verdict.claims if c.label == "supported"]
    if not supported:
        return False
    if any(h in grounds.history for h in verdict.named_history) and any(
            f.check == "history" and f.label == "supported" for c in supported for f in c.findings):
        return True
    text = " ".join(c.text for c in supported)
    said = Stems(text)
    if any(said.has(t) for t in content_terms(grounds.query) if grounds.card_stems.has(t)):
        return True
    if interpretation is None:
        return False
    # a met condition stated: its value as the card has it ("podcast episode", "Lena Marsh"), or a number of the
    # card inside its range ("39 min" for "under 40 minutes")
    said_keys, card_keys = f" {value_key(text)} ", f" {value_key(grounds.card)} "
    for c in interpretation.effective:
        if c.negate:
            continue
        if c.type != "numeric" and any(f" {value_key(v)} " in said_keys and f" {value_key(v)} " in card_keys
                                       for v in c.values):
            return True
        if c.type == "numeric" and any(_in_range(c, n) and re.search(rf"\b{n}\b", text)
                                       for n in re.findall(r"\d+", grounds.card)):
            return True
    return False


def _in_range(condition, value: str) -> bool:
    return condition._in_range(float(value))  # the condition's own reading of its range


def is_specific(verdict: Verdict, grounds: Grounds, others: Sequence[Grounds], checker: ClaimChecker) -> bool:
    """Whether some supported claim resting on the card holds for at most a third of the other candidates (each
    checked by the same engine, said of that candidate)."""
    claims = [c for c in verdict.claims if c.label == "supported" and any(s.kind == "card" for s in c.sources)]
    if not claims:
        return False
    if not others:
        return True
    for claim in claims:
        holds = sum(checker.check(o, claim.text).grounded for o in others)
        if holds / len(others) <= SPECIFIC_SHARE:
            return True
    return False


def media_words(grounds: Grounds) -> list[str]:
    """The request's words that the item has only in its media text (none in its title or text fields)."""
    terms = content_terms(grounds.query)
    text = Stems(" ".join([grounds.title, *(v for k, v in grounds.fields.items() if not is_media_field(k))]))
    media = Stems(" ".join(v for k, v in grounds.fields.items() if is_media_field(k)))
    return [t for t in terms if media.has(t) and not text.has(t)]


def says_media(text: str, words: Sequence[str]) -> bool:
    """Whether ``text`` says one of ``words`` (the media-only request words)."""
    said = Stems(text)
    return any(said.has(w) for w in words)
