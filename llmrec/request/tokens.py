"""Tokens of a request with their character spans, and number words read as numbers.

The parser matches phrases on normalised keys (``value_key``: "Sci-Fi" and "sci fi" are one key) and reports back the
exact words it used, so every token keeps where it came from in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmrec.request.facets import value_key

# Words (with inner apostrophes, hyphens, dots: "sci-fi", "o'toole", "t.e."), decades ("'80s", "1980s", "80's"),
# numbers ("7.5", "90"), and the punctuation that matters for scope and comparisons.
_TOKEN = re.compile(r"['’]\d\d['’]?s\b|\d+(?:\.\d+)?(?:['’]?s\b)?|[^\W\d_]+(?:['’.][^\W\d_]+)*|[-–/<>=+~,;.!?\"“”]",
                    re.UNICODE)


@dataclass
class Token:
    text: str                 # as typed
    key: str                  # normalised (value_key), possessive "'s" removed; punctuation keeps itself
    start: int                # character span in the request
    end: int
    value: float | None = None  # a number (digits or number words merged into this token)
    decade: int | None = None   # a decade token ("80s", "eighties", "1980s"): its first year, 1980
    words: int = 1              # how many typed words the token stands for

    @property
    def cap(self) -> bool:
        return self.text[:1].isupper()

    @property
    def punct(self) -> bool:
        return not any(ch.isalnum() for ch in self.text)


def tokenize(text: str) -> list[Token]:
    """Split a request into tokens; hyphenated words become their parts with "-" between ("slow-burn" → slow, -,
    burn), so "science-fiction" and "science fiction" match the same phrases; number words are merged."""
    return merge_number_words([_make(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)])


def _make(raw: str, start: int, end: int) -> Token:
    if not any(ch.isalnum() for ch in raw):
        key = {"–": "-", "“": '"', "”": '"'}.get(raw, raw)
        return Token(raw, key, start, end)
    text = raw
    decade = None
    value = None
    m = re.fullmatch(r"['’]?(\d\d|\d{4})['’]?s", raw)
    if m and (len(m.group(1)) == 4 and m.group(1).endswith("0") or len(m.group(1)) == 2 and m.group(1)[1] == "0"):
        digits = m.group(1)
        decade = int(digits) if len(digits) == 4 else (1900 + int(digits) if int(digits) >= 20 else 2000 + int(digits))
    elif re.fullmatch(r"\d+(?:\.\d+)?", raw):
        value = float(raw)
    base = re.sub(r"['’]s$", "", text) if text[:1].isalpha() else text
    key = value_key(base.rstrip(".")) if text[:1].isalpha() else raw.lower()
    return Token(text, key, start, end, value=value, decade=decade)


# --- number words --------------------------------------------------------------------------------------------------

_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                     "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_DECADES = {w: 10 * (i + 2) for i, w in enumerate("twenties thirties forties fifties sixties seventies eighties "
                                                  "nineties".split())}


def _word_value(key: str) -> int | None:
    if key in _UNITS:
        return _UNITS[key]
    if key in _TENS:
        return _TENS[key]
    parts = key.split()
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _UNITS and 0 < _UNITS[parts[1]] < 10:
        return _TENS[parts[0]] + _UNITS[parts[1]]  # "eighty-four" arrives as one hyphen-split pair
    return None


def merge_number_words(tokens: list[Token]) -> list[Token]:
    """Read spelled numbers: "ninety" → 90, "eighty four" → 84, "nineteen eighty-four" → 1984, "two thousand and
    five" → 2005, "a hundred and twenty" → 120, "an hour and a half" keeps "an hour" (the unit rules read it),
    "eighties" → the decade 1980, "nineteen-eighties" → 1980."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.key in _DECADES:
            out.append(Token(t.text, t.key, t.start, t.end, decade=1900 + _DECADES[t.key]))
            i += 1
            continue
        run = _number_run(tokens, i)
        if run is None:
            out.append(t)
            i += 1
            continue
        value, decade, j = run
        first, last = tokens[i], tokens[j - 1]
        out.append(Token(" ".join(x.text for x in tokens[i:j]), " ".join(x.key for x in tokens[i:j]), first.start,
                         last.end, value=None if decade else float(value), decade=decade,
                         words=j - i))
        i = j
    return out


def _number_run(tokens: list[Token], i: int) -> tuple[int, int | None, int] | None:
    """(value, decade or None, index after it) of the spelled number starting at ``i``; None when there is none."""
    def word(k: int) -> str:
        return tokens[k].key if k < len(tokens) else ""

    def skip_hyphen(k: int) -> int:
        return k + 1 if word(k) == "-" else k

    def small(k: int) -> tuple[int, int] | None:  # 1..99 spelled: "eighty", "eighty four", "eighty-four"
        if word(k) in _UNITS:
            return _UNITS[word(k)], k + 1
        if word(k) in _TENS:
            value, k2 = _TENS[word(k)], skip_hyphen(k + 1)
            if word(k2) in _UNITS and 0 < _UNITS[word(k2)] < 10:
                return value + _UNITS[word(k2)], k2 + 1
            return value, k + 1
        return None

    def scaled(value: int, scale: int, k: int) -> tuple[int, None, int]:
        """``value`` × ``scale`` plus an optional "(and) <small number>" after it: "two thousand and five"."""
        tail = small(k + 1 if word(k) == "and" else k)
        return (value * scale + tail[0], None, tail[1]) if tail is not None else (value * scale, None, k)

    if word(i) in ("a", "an") and word(i + 1) in ("hundred", "thousand"):  # "a hundred and twenty"
        return scaled(1, 1000 if word(i + 1) == "thousand" else 100, i + 2)
    first = small(i)
    if first is None:
        return None
    value, k = first
    # "nineteen eighty four", "nineteen-eighties", "nineteen hundred"
    if 10 <= value <= 20:
        k2 = skip_hyphen(k)
        if word(k2) in _DECADES:
            return 0, value * 100 + _DECADES[word(k2)], k2 + 1
        rest = small(k2)
        if rest is not None and rest[0] >= 10:
            return value * 100 + rest[0], None, rest[1]
        if word(k2) == "hundred":
            return scaled(value, 100, k2 + 1)
    if word(k) in ("thousand", "hundred"):
        return scaled(value, 1000 if word(k) == "thousand" else 100, k + 1)
    return value, None, k
