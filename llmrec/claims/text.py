"""Text primitives every rule shares: normalising, whole-word containment, content words, a light stemmer, and how
prose writes a catalog title. One definition each, so the justifier and the audit can never disagree on what a word
or a mention is."""

from __future__ import annotations

import re
from collections.abc import Iterable

from llmrec.claims.vocabulary import ordered, words

TOKEN = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_WORD = re.compile(r"[^\W_][\w'’-]*", re.UNICODE)
# MovieLens files titles with the article moved to the end ("Godfather, The"); prose writes "The Godfather".
_TRAILING_ARTICLE = re.compile(r"^(.+),\s+(the|a|an)$", re.IGNORECASE)


def norm(text: str) -> str:
    """Lower case, straight apostrophes, single spaces."""
    return re.sub(r"\s+", " ", text.lower().replace("’", "'")).strip()


def contains(haystack: str, phrase: str) -> bool:
    """Whole-word, case-insensitive containment (``haystack`` already normalised)."""
    p = norm(phrase)
    return bool(p) and re.search(r"(?<![\w-])" + re.escape(p) + r"(?![\w])", haystack) is not None


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def tokens(text: str) -> list[str]:
    """Lower-cased words (letters first; numbers are the number rule's)."""
    return [w.lower().strip("'’-") for w in TOKEN.findall(text)]


def stem(word: str) -> str:
    """A light, deterministic suffix stripper (enough to match violent/violence, directed/director)."""
    w = word.lower().strip("'’")
    if w.endswith("ss"):  # glass, brass, mass: not plurals
        return w
    for suffix in ordered("stem_suffixes"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            return w[: -len(suffix)]
    return w


def content_terms(text: str) -> list[str]:
    """Words that carry checkable content: not stop words, not opinion or recommendation talk, not dates."""
    skip = words("stopwords") | words("generic_words") | words("calendar")
    return [w for w in tokens(text) if len(w) >= 3 and w not in skip]


class Stems:
    """Stems of a text, matched exactly or by a shared prefix of at least five letters."""

    def __init__(self, text: str):
        self.stems = {stem(w) for w in tokens(text) if len(w) >= 3}
        self.prefixes = {s[:5] for s in self.stems if len(s) >= 5}

    def has(self, word: str) -> bool:
        s = stem(word)
        return s in self.stems or (len(s) >= 5 and s[:5] in self.prefixes)


def title_variants(title: str) -> set[str]:
    """The ways prose writes a title: as stored, and "The Godfather" for a catalog's "Godfather, The"."""
    t = title.strip()
    m = _TRAILING_ARTICLE.match(t)
    return {t, f"{m.group(2)} {m.group(1)}"} if m else {t}


def mentions(text: str, title: str) -> bool:
    """Whether ``text`` contains ``title`` (whole phrase, any case); titles under four letters never match by
    accident. Loose on purpose: for finding which history items a text may refer to, not for flagging mentions."""
    low = text.lower()
    for variant in title_variants(title):
        t = variant.lower()
        if len(t) >= 4 and re.search(r"(?<![a-z0-9])" + re.escape(t) + r"(?![a-z0-9])", low) is not None:
            return True
    return False


def written_as_title(text: str, start: int, end: int, variant: str) -> bool:
    """Whether the match ``text[start:end]`` of a title ``variant`` is written the way a title is: capitalised or
    opening with a digit ("12 Angry Men"), exactly as spelled when short ("Up", not "up"), and, for a one-word title
    ("Up", "Heat", "Paris"), neither opening a sentence nor part of a longer name ("Ed Harris")."""
    found = text[start:end]
    if not (found[0].isupper() or found[0].isdigit()):
        return False
    if len(variant) < 4 and found != variant:
        return False
    if " " in variant:
        return True
    before, after = text[:start], text[end:]
    previous = re.search(r"([A-Z][\w'’-]*)\s+$", before)
    return not (re.search(r"(?:^|[.!?:;\"“(]|\s[—–-])\s*$", before) or re.match(r"\s+[A-Z]", after)
                or (previous and previous.group(1).lower() not in words("stopwords")))


def clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
