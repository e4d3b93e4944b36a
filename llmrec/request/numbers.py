"""Numbers in requests: decades, years, lengths, ratings and counts, with the comparisons around them.

"from the eighties" → year 1980–1989; "the late 90s" → 1996–1999; "before 1970" → year < 1970; "since 2010" → ≥ 2010;
"between 1990 and 1995"; "under 90 minutes" / "shorter than an hour and a half" → length < 90 on every field in
minutes (a film's runtime, an episode's duration); "rated 8 or higher" → rating ≥ 8; "under 300 pages" → pages < 300;
"episode 12". A number with no unit and no cue ("under 90") is not guessed at: a note says it was not used.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from llmrec.request.conditions import Condition
from llmrec.request.facets import CatalogFacets, Facet
from llmrec.request.lexicon import forms
from llmrec.request.vocabulary import VOCABULARY

if TYPE_CHECKING:
    from llmrec.request.state import ParseState

_YEARS = (1870, 2035)
_HOUR_WORDS = ("an", "a", "one")


@cache
def cue_keys(cue: str) -> tuple[str, ...]:
    """A cue phrase as the token keys a request would have ("isn't" → ("isnt",), "à la" → ("a", "la"))."""
    from llmrec.request.tokens import tokenize

    return tuple(t.key for t in tokenize(cue))


@cache
def _by_edge(cues: tuple[str, ...], last: bool) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """Cues indexed by their first (or last) token key: a lookup per token instead of a scan of every cue."""
    index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for cue in cues:
        keys = cue_keys(cue)
        if keys:
            index.setdefault(keys[-1] if last else keys[0], []).append((keys, cue))
    return index


def cue_before(st: ParseState, i: int, cues: list[str], hyphen: bool = False) -> tuple[int, str]:
    """(length, cue) of the longest free cue ending right before token ``i``; (0, "") when none. With ``hyphen``, a
    hyphen between cue and token belongs to the cue ("pre-1960")."""
    if hyphen and i > 0 and st.tokens[i - 1].key == "-":
        n, cue = cue_before(st, i - 1, cues)
        if n:
            return n + 1, cue
    if i == 0:
        return 0, ""
    best = (0, "")
    for keys, cue in _by_edge(tuple(cues), True).get(st.tokens[i - 1].key, ()):
        n = len(keys)
        if i - n >= 0 and st.free(i - n, i) and tuple(t.key for t in st.tokens[i - n:i]) == keys:
            best = max(best, (n, cue))
    return best


def cue_after(st: ParseState, j: int, cues: list[str]) -> tuple[int, str]:
    """(length, cue) of the longest free cue starting at token ``j``."""
    if j >= len(st.tokens):
        return 0, ""
    best = (0, "")
    for keys, cue in _by_edge(tuple(cues), False).get(st.tokens[j].key, ()):
        n = len(keys)
        if st.free(j, j + n) and tuple(t.key for t in st.tokens[j:j + n]) == keys:
            best = max(best, (n, cue))
    return best


class NumberRules:
    """The numeric facets of one catalog and the rules that read conditions on them."""

    def __init__(self, facets: CatalogFacets):
        self.year = [f.name for f in facets.numeric("year")]
        self.minutes = [f.name for f in facets.numeric("minutes")]
        self.rating = [f.name for f in facets.numeric("rating10")]
        self.counts: dict[str, Facet] = {}
        for facet in facets.numeric("count"):
            for f in forms(facet.name.replace("_", " ")):
                self.counts[f] = facet
        self.strict = set(VOCABULARY.strict_cues)

    def read(self, st: ParseState) -> list[tuple[int, int, Condition]]:
        """Every numeric condition in the request, claiming the tokens it reads (cues included)."""
        out = []
        i = 0
        while i < len(st.tokens):
            found = None
            if st.free(i, i + 1):
                found = self._decade(st, i) or self._year(st, i) or self._quantity(st, i)
            if found is None:
                i += 1
                continue
            start, end, cond = found
            st.claim(start, end, "numeric")
            if cond is not None:
                out.append((start, end, cond))
            i = end
        return out

    # ---- years ---------------------------------------------------------------------------------------------------
    def _decade(self, st: ParseState, i: int):
        t = st.tokens[i]
        if t.decade is None:
            return None
        low, high = t.decade, t.decade + 9
        start = i
        if start > 0 and st.tokens[start - 1].key in VOCABULARY.decade_modifiers and st.free(start - 1, start):
            a, b = VOCABULARY.decade_modifiers[st.tokens[start - 1].key]
            low, high = t.decade + a, t.decade + b
            start -= 1
        if start > 0 and st.tokens[start - 1].key == "the" and st.free(start - 1, start):
            start -= 1
        end = i + 1
        cond = self._year_condition(st, start, end, low, high)
        if cond is None:
            return start, end, None
        return cond

    def _year(self, st: ParseState, i: int):
        t = st.tokens[i]
        if t.value is None or t.value != int(t.value) or not _YEARS[0] <= t.value <= _YEARS[1]:
            return None
        if self._unit_after(st, i + 1)[0]:
            return None  # "2000 pages" is a count, not a year
        low = high = int(t.value)
        end = i + 1
        # ranges: "1990-1995", "1990 to 1995", "between 1990 and 1995", "1990-95"
        if end + 1 < len(st.tokens) and st.tokens[end].key in ("-", "to", "through", "until", "and", "till") \
                and st.tokens[end + 1].value is not None and st.free(end, end + 2):
            second = st.tokens[end + 1].value
            if second < 100:
                second = low // 100 * 100 + second
            if low < second <= _YEARS[1] and (st.tokens[end].key != "and" or cue_before(st, i, ["between"])[0]):
                high, end = int(second), end + 2
        return self._year_condition(st, i, end, low, high)

    def _year_condition(self, st: ParseState, start: int, end: int, low: int, high: int):
        before, cue = cue_before(st, start, VOCABULARY.year_cues_before, hyphen=True)
        after, cue2 = cue_before(st, start, VOCABULARY.year_cues_after, hyphen=True)
        between = cue_before(st, start, ["between", "from"])[0] if high > low else 0
        trail_after = cue_after(st, end, VOCABULARY.year_trailing_after)[0]
        trail_before = cue_after(st, end, VOCABULARY.year_trailing_before)[0]
        within = cue_before(st, start, VOCABULARY.year_cues_in)[0]
        if not self.year:
            words = st.words(start, end)
            st.notes.append(f"this catalog has no year to compare with ({words!r}); not used")
            return start - max(before, after, within), end, None
        text_start = start
        if before:
            text_start -= before
            cond = Condition(facet=self.year[0], fields=self.year, type="numeric", high=low,
                             high_inclusive=cue not in self.strict)
        elif after:
            text_start -= after
            cond = Condition(facet=self.year[0], fields=self.year, type="numeric", low=high,
                             low_inclusive=cue2 not in self.strict)
        elif trail_after:
            end += trail_after
            cond = Condition(facet=self.year[0], fields=self.year, type="numeric", low=low)
        elif trail_before:
            end += trail_before
            cond = Condition(facet=self.year[0], fields=self.year, type="numeric", high=high)
        else:
            text_start -= between or within
            cond = Condition(facet=self.year[0], fields=self.year, type="numeric", low=low, high=high)
        cond.text = st.words(text_start, end)
        return text_start, end, cond

    # ---- lengths, ratings, counts --------------------------------------------------------------------------------
    def _amount(self, st: ParseState, i: int) -> tuple[float, int] | None:
        """(value, index after it) of an amount at ``i``: "90", "1.5", "an" (hour), "half an" (hour), "two and a
        half"."""
        tokens = st.tokens
        t = tokens[i]
        if t.value is not None:
            value, j = t.value, i + 1
        elif t.key == "half" and i + 1 < len(tokens) and tokens[i + 1].key in ("an", "a"):
            value, j = 0.5, i + 2
        elif t.key in _HOUR_WORDS and i + 1 < len(tokens) and tokens[i + 1].key in VOCABULARY.hour_units:
            value, j = 1.0, i + 1
        else:
            return None
        if [x.key for x in tokens[j:j + 3]] == ["and", "a", "half"]:
            value, j = value + 0.5, j + 3
        return value, j

    def _unit_after(self, st: ParseState, j: int) -> tuple[int, str, Facet | None]:
        """(tokens, unit, count facet) of a unit at ``j`` ("minutes", "-minute", "hours", "/10", "pages")."""
        tokens = st.tokens
        k = j + 1 if j < len(tokens) and tokens[j].key == "-" else j
        if k >= len(tokens):
            return 0, "", None
        key = tokens[k].key
        if key in VOCABULARY.minute_units:
            return k + 1 - j, "minutes", None
        if key in VOCABULARY.hour_units:
            n = k + 1 - j
            if [x.key for x in tokens[k + 1:k + 4]] == ["and", "a", "half"]:
                n += 3
            return n, "hours", None
        if key == "/" and k + 1 < len(tokens) and tokens[k + 1].value == 10:
            return k + 2 - j, "rating", None
        if key in self.counts:
            return k + 1 - j, "count", self.counts[key]
        return 0, "", None

    def _quantity(self, st: ParseState, i: int):
        amount = self._amount(st, i)
        if amount is None:
            return None
        value, j = amount
        n, unit, count_facet = self._unit_after(st, j)
        end = j + n
        if unit == "hours":
            value = value * 60 + (30 if st.words(j, end).endswith("half") else 0)
            unit = "minutes"
        facet_before = st.tokens[i - 1].key if i > 0 else ""
        if not unit and facet_before in self.counts and st.free(i - 1, i):
            unit, count_facet = "count", self.counts[facet_before]
            start = i - 1
            return start, end, self._condition([count_facet.name], value, value, st, start, end, exact=True)
        rating_at = None
        if not unit:
            before = [k for k in range(max(0, i - 5), i) if st.tokens[k].key in VOCABULARY.rating_cues
                      and st.free(k, i)]
            rating_at = before[0] if before else None
            if (rating_at is not None or cue_after(st, end, ["on imdb", "imdb", "rating"])[0]) and value <= 10:
                unit = "rating"
                end += cue_after(st, end, ["on imdb", "imdb", "rating"])[0]
        if not unit:
            less, _ = cue_before(st, i, VOCABULARY.less_cues)
            more, _ = cue_before(st, i, VOCABULARY.more_cues)
            if less or more:
                st.notes.append(f"{st.words(i - (less or more), end)!r} gives no unit; not used as a condition")
            return None
        fields = {"minutes": self.minutes, "rating": self.rating,
                  "count": [count_facet.name] if count_facet else []}[unit]
        if not fields:
            what = {"minutes": "length", "rating": "rating"}.get(unit, unit)
            st.notes.append(f"this catalog has no {what} to compare with ({st.words(i, end)!r}); not used")
            return i, end, None
        start, end, cond = self._compare(st, i, end, value, fields, unit)
        if unit == "rating":  # "rated 8 or higher on IMDb": the cue and the site are part of the condition
            end += cue_after(st, end, ["on imdb", "imdb", "on imdb", "rating"])[0]
            if rating_at is not None and rating_at < start:
                start = rating_at
            cond.text = st.words(start, end)
        return start, end, cond

    def _compare(self, st: ParseState, i: int, end: int, value: float, fields: list[str], unit: str):
        less, less_cue = cue_before(st, i, VOCABULARY.less_cues)
        more, more_cue = cue_before(st, i, VOCABULARY.more_cues)
        about, _ = cue_before(st, i, VOCABULARY.about_cues)
        less_t = cue_after(st, end, VOCABULARY.less_trailing)[0]
        more_t = cue_after(st, end, VOCABULARY.more_trailing)[0]
        start = i
        if less:
            start = i - less
            return start, end, self._condition(fields, None, value, st, start, end,
                                               high_inclusive=less_cue not in self.strict)
        if more:
            start = i - more
            return start, end, self._condition(fields, value, None, st, start, end,
                                               low_inclusive=more_cue not in self.strict)
        if less_t:
            return start, end + less_t, self._condition(fields, None, value, st, start, end + less_t)
        if more_t:
            return start, end + more_t, self._condition(fields, value, None, st, start, end + more_t)
        if unit == "rating":  # "rated 8": 8 or better
            return start, end, self._condition(fields, value, None, st, start, end)
        start -= about
        spread = max(5.0, round(value * 0.1)) if unit == "minutes" else max(1.0, round(value * 0.1))
        return start, end, self._condition(fields, value - spread, value + spread, st, start, end)

    def _condition(self, fields: list[str], low: float | None, high: float | None, st: ParseState, start: int,
                   end: int, low_inclusive: bool = True, high_inclusive: bool = True, exact: bool = False
                   ) -> Condition:
        return Condition(facet=fields[0], fields=fields, type="numeric", low=low, high=high,
                         low_inclusive=low_inclusive, high_inclusive=high_inclusive, text=st.words(start, end))

    @staticmethod
    def negate(cond: Condition) -> Condition:
        """The opposite of a numeric condition: "not before 1970" is "1970 or later"; a negated range (not from the
        eighties) stays a range with ``negate`` set."""
        if cond.low is not None and cond.high is not None:
            return cond.model_copy(update={"negate": not cond.negate})
        if cond.high is not None:
            return cond.model_copy(update={"low": cond.high, "low_inclusive": not cond.high_inclusive,
                                           "high": None, "high_inclusive": True})
        return cond.model_copy(update={"high": cond.low, "high_inclusive": not cond.low_inclusive,
                                       "low": None, "low_inclusive": True})
