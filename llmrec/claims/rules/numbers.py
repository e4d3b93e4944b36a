"""Numbers, years and decades: a number must be in the card; a release year or a runtime/page/track/episode count
that differs from the card's field is *contradicted*; a decade ("the 90s", "1990s") must hold a year of the card.

Elsewhere a number may come from the cards of the user's history when the claim is about the user ("you loved
episodes 11 and 13"), or from the request when the claim is about the request ("you asked for under 3 hours").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from llmrec.claims.catalog import Catalog
from llmrec.claims.claim import ClaimWork
from llmrec.claims.cues import about_request, about_user, negated
from llmrec.claims.grounds import Grounds
from llmrec.claims.text import contains, norm
from llmrec.claims.verdicts import Source
from llmrec.claims.vocabulary import alternation, table, words


@dataclass(frozen=True)
class _Patterns:
    units: dict            # unit -> {"words", "before", "fields", "scale", "tolerance"} (data/units.json)
    number_words: dict     # "twelve" -> 12
    number: re.Pattern     # digits with their decimals ("9.5" is one number), a decade's "s", or a number word
    unit_after: re.Pattern       # "128 minutes"
    unit_of_word: dict           # "mins" -> "minutes"
    unit_before: list            # [(unit, pattern)]: "episode 3"
    release_before: re.Pattern   # "released in 1995"
    release_after: re.Pattern    # "a 1995 film"


@cache
def _patterns() -> _Patterns:
    units, number_words = table("units"), table("number_words")
    unit_words = [w for u in units.values() for w in u.get("words", ())]
    return _Patterns(
        units=units, number_words=number_words,
        number=re.compile(r"(?<![\w.])(\d{1,4}(?:\.\d+)?)(s)?(?![\w.]\d)|\b(" + alternation(number_words) + r")\b",
                          re.IGNORECASE),
        unit_after=re.compile(r"^[\s-]*(" + alternation(unit_words) + r")\b", re.IGNORECASE),
        unit_of_word={w: name for name, u in units.items() for w in u.get("words", ())},
        unit_before=[(name, re.compile(r"(?<![\w])(?:" + alternation(u["before"]) + r")\s*$", re.IGNORECASE))
                     for name, u in units.items() if u.get("before")],
        release_before=re.compile(r"\b(?:" + alternation(words("release_cues_before")) + r")\b[\w\s]{0,9}$",
                                  re.IGNORECASE),
        release_after=re.compile(r"^\s*(?:" + alternation(words("release_cues_after")) + r")\b", re.IGNORECASE))


def apply(work: ClaimWork, grounds: Grounds, catalog: Catalog) -> None:
    """Check years and counts; blank out each checked number (and its unit)."""
    p = _patterns()
    claim = work.masked
    card_values = numbers_in(grounds.card_norm)
    history_values = (numbers_in(norm(" ".join(grounds.history_cards.values()))) if about_user(claim) else set())
    request_values = numbers_in(norm(grounds.query)) if grounds.query and about_request(work.text) else set()
    blanks: list[tuple[int, int]] = []
    for m in p.number.finditer(claim):
        digits, decade, word = m.group(1), m.group(2), m.group(3)
        if negated(claim[:m.start()]) and not digits:
            continue  # "no two days alike"
        u = p.unit_after.match(claim[m.end():])
        blanks.append((m.start(), m.end() + (u.end() if u else 0)))
        value = _number(digits) if digits else p.number_words[word.lower()]
        raw = m.group()
        before, after = claim[:m.start()], claim[m.end():]
        if value in request_values:
            work.add("number", "supported", f"{raw} is in the request", about=raw,
                     sources=[Source(kind="request", value=grounds.query)])
            continue
        if digits and decade and len(digits) == 2 and value % 10 == 0:
            # "the 90s" is the 1990s; "the 10s" the 2010s when the card has a year there, else the 1910s
            century = 2000 if any(2000 + value <= v < 2010 + value for v in card_values) else 1900
            _year(work, grounds, raw, century + value, True, before, after, card_values)
            continue
        if digits and len(digits) == 4 and 1800 <= value <= 2099:
            _year(work, grounds, raw, value, bool(decade), before, after, card_values)
            continue
        unit = p.unit_of_word[u.group(1).lower()] if u else None
        if unit is None:
            unit = next((name for name, pattern in p.unit_before if pattern.search(before)), None)
        spec = p.units.get(unit, {})
        unit_fields = {name: grounds.fields[name] for name in spec.get("fields", ()) if name in grounds.fields}
        if unit_fields:
            field_numbers = {n for v in unit_fields.values() for n in numbers_in(norm(v))}
            want, slack = value * spec.get("scale", 1), spec.get("tolerance", 0)
            ok = any(abs(n - want) <= slack for n in field_numbers)
            # the same count with the same unit in the card's text ("shifted their lives forty minutes a day")
            if u and not ok:
                ok = re.search(r"(?<!\w)" + re.escape(raw.lower()) + r"[\s-]*" + u.group(1)[:3].lower(),
                               grounds.card_norm) is not None
            sources = [Source(kind="card", key=k, value=v) for k, v in unit_fields.items()]
            if ok:
                work.add("number", "supported", f"{raw} {unit} matches the card", about=raw, sources=sources)
            else:
                work.add("number", "contradicted", f"says {raw} {unit}, the card says otherwise", about=raw,
                         sources=sources)
            continue
        if value in card_values:
            work.add("number", "supported", f"{raw} is in the card", about=raw,
                     sources=fields_with(grounds.fields, str(value), word))
        elif value in history_values:
            work.add("number", "supported", f"{raw} is in the cards of the user's history", about=raw,
                     sources=[Source(kind="history", key=h, value=grounds.history.get(h, ""))
                              for h, card in grounds.history_cards.items() if value in numbers_in(norm(card))])
        else:
            work.add("number", "unsupported", f"the number {raw} appears nowhere in the card", about=raw)
    for start, end in blanks:
        work.blank(start, end)


def _year(work: ClaimWork, grounds: Grounds, raw: str, year: int, decade: bool, before: str, after: str,
          card_values: set[float]) -> None:
    p = _patterns()
    year_fields = {k: grounds.fields[k] for k in p.units["year"]["fields"] if k in grounds.fields}
    sources = [Source(kind="card", key=k, value=v) for k, v in year_fields.items()]
    if decade:
        if any(year <= v < year + 10 for v in card_values):
            work.add("year", "supported", f"the {year}s match the card", about=raw, sources=sources)
        else:
            work.add("year", "unsupported", f"nothing in the card is from the {year}s", about=raw, sources=sources)
        return
    release = (p.release_before.search(before) is not None or p.release_after.match(after) is not None
               or (before.rstrip().endswith("(") and after.lstrip().startswith(")")))
    field_years = {n for v in year_fields.values() for n in numbers_in(v)}
    listed = ", ".join(str(y) for y in sorted(field_years))
    if release and field_years:
        if year in field_years:
            work.add("year", "supported", f"{year} is the card's year", about=raw, sources=sources)
        else:
            work.add("year", "contradicted", f"gives {year} as its year; the card says {listed}", about=raw,
                     sources=sources)
    elif year in card_values:
        work.add("year", "supported", f"{year} is in the card", about=raw,
                 sources=fields_with(grounds.fields, str(year)))
    elif field_years:
        work.add("year", "contradicted", f"mentions {year}; the card's year is {listed}", about=raw, sources=sources)
    else:
        work.add("year", "unsupported", f"{year} appears nowhere in the card", about=raw)


def _number(digits: str) -> float:
    return float(digits) if "." in digits else int(digits)


@lru_cache(maxsize=4096)
def numbers_in(text: str) -> frozenset[float]:
    """Every number in a (normalised) text: digits, with decimals, and number words."""
    values = {_number(n) for n in re.findall(r"\d+(?:\.\d+)?", text)}
    for word, v in _patterns().number_words.items():
        if re.search(r"\b" + word + r"\b", text.lower()):
            values.add(v)
    return frozenset(values)


def fields_with(fields: dict[str, str], needle: str, alt: str | None = None) -> list[Source]:
    """The card fields whose value contains ``needle`` (or ``alt``) as whole words."""
    out = []
    for name, value in fields.items():
        low = norm(value)
        if contains(low, needle) or (alt and contains(low, alt)):
            out.append(Source(kind="card", key=name, value=value))
    return out
