"""Splitting a justification into atomic claims, deterministically.

A claim is a sentence, or a clause of one: sentences split at ``.!?``, then at ``;``, then at clause joints (``, ``,
`` and ``, `` but ``, `` while ``, `` whereas ``, `` which ``) when both sides are at least ``MIN_CLAUSE_WORDS``
words, so "a patient, contemplative film" stays whole while "directed by Lena Marsh and runs 128 minutes" becomes
two claims. Protected phrases (titles, names, genre lists) are never split inside: "Dust and Psalms" stays one title.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from llmrec.claims.text import word_count
from llmrec.claims.vocabulary import words

MIN_CLAUSE_WORDS = 3
_WORD = re.compile(r"[^\W_][\w'’-]*", re.UNICODE)  # a word, as word_count counts them
_SENTENCE_END = re.compile(r"[.!?]+(?=[\s\"'”’)]*(?:\s|$))")
_HARD = re.compile(r";|\s[—–]\s|\s-\s")
_SOFT = re.compile(r",\s+(?:and|but|while|whereas|though|although|which|so)\s+|,\s+|\s+(?:and|but|while|whereas)\s+",
                   re.IGNORECASE)
_LEADING_JOINER = re.compile(r"^(?:and|but|while|whereas|though|although|so|also)\s+", re.IGNORECASE)
_EDGE = " \t\n,;:.!?\"'“”‘’()[]—–-"


@dataclass(frozen=True)
class Claim:
    """One atomic claim: its text and where it sits in the justification (``text == source[start:end]``)."""

    text: str
    start: int
    end: int


def protected_mask(text: str, phrases: Iterable[str]) -> list[bool]:
    """True at every character inside a protected phrase (case-insensitive, whole words)."""
    mask = [False] * len(text)
    lower = text.lower()
    for phrase in phrases:
        p = phrase.strip().lower()
        if len(p) < 3 or p not in lower:  # absent: no pattern to compile (a check passes ~60 phrases, most absent)
            continue
        for m in re.finditer(r"(?<!\w)" + re.escape(p) + r"(?!\w)", lower):
            for i in range(m.start(), m.end()):
                mask[i] = True
    return mask


def split_claims(text: str, protected: Iterable[str] = ()) -> list[Claim]:
    """Atomic claims of a justification, in order. Same input, same claims."""
    mask = protected_mask(text, protected)
    pieces: list[tuple[int, int]] = []
    for start, end in _split_hard(text, mask):
        pieces.extend(_split_soft(text, start, end, mask))
    claims = []
    for start, end in pieces:
        start, end = _trim(text, start, end)
        m = _LEADING_JOINER.match(text[start:end])
        if m:
            start, end = _trim(text, start + m.end(), end)
        if end > start and word_count(text[start:end]) > 0:
            claims.append(Claim(text[start:end], start, end))
    return claims


def _split_hard(text: str, mask: list[bool]) -> list[tuple[int, int]]:
    """Sentences and semicolon/dash-separated parts."""
    cuts = []
    for m in _SENTENCE_END.finditer(text):
        if mask[m.start()]:
            continue
        before = re.search(r"([\w.]+)$", text[: m.start()])
        word = before.group(1).lower() if before else ""
        if m.group() == "." and (word in words("abbreviations") or len(word) == 1 and word.isalpha()):
            continue  # "Dr. Marsh", "J. Smith"
        if m.group() == "." and m.end() < len(text) and text[m.end():m.end() + 1].isdigit():
            continue  # 3.5
        cuts.append((m.start(), m.end()))
    for m in _HARD.finditer(text):
        if not mask[m.start()]:
            cuts.append((m.start(), m.end()))
    return _between(len(text), cuts)


def _split_soft(text: str, start: int, end: int, mask: list[bool]) -> list[tuple[int, int]]:
    """Clauses of one sentence: cut at joints, then merge any piece shorter than MIN_CLAUSE_WORDS back into its
    neighbour (lists like "glaciers, dialects and night skies" stay whole)."""
    cuts = []
    for m in _SOFT.finditer(text[start:end]):
        a, b = start + m.start(), start + m.end()
        if any(mask[a:b]):
            continue
        if m.group().strip() == ",":
            # A bare comma separates clauses only when a clause starts after it ("…in 2019, The Quiet Orbit is…",
            # "…slow, with no violence"); between adjectives or list items it does not ("a patient, quiet film").
            nxt = _WORD.match(text, b)
            if not nxt or not (nxt.group()[0].isupper() or nxt.group().lower() in words("clause_openers")):
                continue
        cuts.append((a, b))
    segments = _between(end, cuts, start)
    # Merge short segments into the previous one (or the next, for the first) until every one is long enough.
    changed = True
    while changed and len(segments) > 1:
        changed = False
        for i, (s, e) in enumerate(segments):
            if word_count(text[s:e]) < MIN_CLAUSE_WORDS:
                if i == 0:
                    segments[0:2] = [(s, segments[1][1])]
                else:
                    segments[i - 1:i + 1] = [(segments[i - 1][0], e)]
                changed = True
                break
    return segments


def _between(end: int, cuts: list[tuple[int, int]], start: int = 0) -> list[tuple[int, int]]:
    spans, pos = [], start
    for s, e in sorted(cuts):
        if s < pos:
            continue
        spans.append((pos, s))
        pos = e
    spans.append((pos, end))
    return [(s, e) for s, e in spans if e > s]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _EDGE:
        start += 1
    while end > start and text[end - 1] in _EDGE:
        end -= 1
    # keep a closing quote or bracket that matches an opening one inside the claim
    if end < len(text) and text[end] in "\"”')" and any(q in text[start:end] for q in "\"“'("):
        end += 1
    return start, end
