"""Facets: the fields a person can state a hard condition on, learned from the catalog itself at ingest.

Nothing here is hard-wired to one dataset. A field is a facet when its values behave like one across the catalog:
- **numeric**: almost every value parses as a number of one kind: a year ("1995", "2006-2007"), a length in minutes
  ("128 min", "3h 48min"; plain numbers in a field named runtime/duration/length), a rating out of 10 ("7.5/10"),
  or a plain count (pages, tracks, episode);
- **people**: fields named for credits (director, cast, writers, author, artist, host, ...), lists of names;
- **categorical**: short list-like values (kind, genres, tags, language, show, ...) that repeat across items; a field
  with a known categorical name qualifies on shape alone, any other field only when its values really repeat.

Importers that know typed values (MovieLens: year from the title, genres, details.json credits and runtime) put them
in ``CatalogItem.attributes``; they win over parsing the text field of the same name. Each item's facet values are
normalised (``value_key``) so that a Chroma ``where`` filter and the Python predicate in ``llmrec.request.conditions``
read the same thing.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, Field

from llmrec.catalog.schema import CatalogItem
from llmrec.request.vocabulary import VOCABULARY

FacetType = Literal["categorical", "people", "numeric"]
# Units a numeric facet can have; the parser maps spoken units (minutes, hours, "/10", decades) onto them.
Unit = Literal["year", "minutes", "rating10", "count"]
METADATA_PREFIX = "f_"  # vector-store metadata keys of facets, apart from the store's own keys (title, card_hash)

_SPLIT = re.compile(r"\s*[,;|]\s*")
_YEAR = re.compile(r"^\s*(1[6-9]\d\d|20\d\d)(?:\s*[–-]\s*(?:\d{2,4})?)?\s*$")
_HOURS_MINUTES = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h(?:ours?|rs?)?)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in(?:ute)?s?)?)?\s*$",
                            re.IGNORECASE)
_RATING10 = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*10\s*$")
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
_MINUTE_NAMES = ("runtime", "duration", "length", "running_time", "minutes")
_NUMERIC_SHARE = 0.9       # share of a field's values that must parse as one numeric kind
_CATEGORICAL_PART_WORDS = 5
_CATEGORICAL_PART_CHARS = 40
_HARD_COVERAGE = 0.5       # a categorical facet on fewer items than this (tags) is only matched softly


def value_key(value: str) -> str:
    """The normal form facet values are stored and compared in: accents stripped, lower case, apostrophes and dots
    dropped ("Peter O'Toole" = "Peter OToole", "T.E. Lawrence" = "TE Lawrence"), other punctuation as spaces."""
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"['’.]", "", text)
    return " ".join(re.sub(r"[^a-z0-9+]+", " ", text).split())


def metadata_key(facet: str) -> str:
    return METADATA_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", facet)


class Facet(BaseModel):
    """One facet of a catalog: its name (the catalog field), type, and what values or range it takes."""

    name: str
    type: FacetType
    role: str = Field("", description="categorical: 'kind' for the item-type field; people: the credit ("
                      "direct, cast, write, any); empty otherwise")
    unit: Unit | None = Field(None, description="numeric facets: what the number means")
    values: dict[str, int] = Field(default_factory=dict, description="categorical/people: display value -> items")
    low: float | None = None
    high: float | None = None
    items: int = Field(0, description="items that have a value")
    hard: bool = Field(True, description="rules may turn request words into conditions on it (categorical facets "
                       "on too few items, such as user tags, are only matched softly)")

    def keys(self) -> dict[str, str]:
        """Normalised key -> display value."""
        return {value_key(v): v for v in self.values}


class CatalogFacets(BaseModel):
    """Every facet of one catalog; stored in the workspace (meta ``facets``) at ingest."""

    items: int = 0
    facets: list[Facet] = Field(default_factory=list)

    def get(self, name: str) -> Facet | None:
        return next((f for f in self.facets if f.name == name), None)

    def of_type(self, type_: FacetType) -> list[Facet]:
        return [f for f in self.facets if f.type == type_]

    def numeric(self, unit: str) -> list[Facet]:
        return [f for f in self.facets if f.type == "numeric" and f.unit == unit]

    def kind(self) -> Facet | None:
        return next((f for f in self.facets if f.role == "kind"), None)


# --- reading one item's raw values ----------------------------------------------------------------------------------

def _raw(item: CatalogItem, name: str) -> object:
    if name in item.attributes:
        return item.attributes[name]
    return item.fields.get(name)


def _parts(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p for p in _SPLIT.split(str(value).strip()) if p]


def parse_number(value: object, unit: str | None) -> float | None:
    """A field's value as a number of ``unit`` (None: any plain number); None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if unit == "year":
        m = _YEAR.match(text)
        return float(m.group(1)) if m else None
    if unit == "rating10":
        m = _RATING10.match(text) or _NUMBER.match(text)
        return float(m.group(1)) if m and float(m.group(1)) <= 10 else None
    if unit == "minutes":
        m = _NUMBER.match(text)
        if m:
            return float(m.group(1))
        m = _HOURS_MINUTES.match(text)
        if m and (m.group(1) or m.group(2)):
            return float(m.group(1) or 0) * 60 + float(m.group(2) or 0)
        return None
    m = _NUMBER.match(text)
    return float(m.group(1)) if m else None


def _numeric_unit(name: str, values: list[object]) -> Unit | None:
    """The unit almost every value of a field parses as, or None when the field is not numeric."""
    lowered = name.lower()
    if lowered.endswith("id") or lowered.endswith("_id") or lowered in ("id", "isbn", "imdb_votes"):
        return None  # identifiers are numbers nobody asks a range of
    candidates: list[Unit] = []
    # A unit is only considered where the field's name or its spelled values say so: "1600" is a year in a field
    # named year, a page count in one named pages; "90" is minutes in a runtime, a count elsewhere.
    if any(n in lowered for n in ("year", "date", "released")):
        candidates.append("year")
    if any(n in lowered for n in _MINUTE_NAMES) or _spelled(values, r"\d\s*(?:h\b|hours?|m\b|min)"):
        candidates.append("minutes")
    if "rating" in lowered or "score" in lowered or _spelled(values, r"/\s*10\s*$"):
        candidates.append("rating10")
    candidates.append("count")
    for unit in candidates:
        parsed = [parse_number(v, unit) for v in values]
        if sum(p is not None for p in parsed) >= _NUMERIC_SHARE * len(values):
            return unit
    return None


def _spelled(values: list[object], pattern: str) -> bool:
    return any(isinstance(v, str) and re.search(pattern, v, re.IGNORECASE) for v in values[:200])


def _people_role(name: str) -> str | None:
    lowered = name.lower()
    for role in ("direct", "cast", "write", "any"):
        if lowered in VOCABULARY.people_fields[role]:
            return role
    return None


def _is_categorical(name: str, parts_per_item: list[list[str]], n_items: int) -> bool:
    parts = [p for ps in parts_per_item for p in ps]
    if not parts:
        return False
    short = sum(len(p) <= _CATEGORICAL_PART_CHARS and len(p.split()) <= _CATEGORICAL_PART_WORDS for p in parts)
    if short < 0.9 * len(parts):
        return False
    if name.lower() in VOCABULARY.categorical_fields:
        return True
    counts = Counter(value_key(p) for p in parts)
    # Values must repeat: a field of mostly unique short strings (a subtitle, a catchphrase) is not a facet.
    return len(counts) <= max(10, n_items // 2) and len(parts) / len(counts) >= 2.0


# --- deriving the facets of a catalog -------------------------------------------------------------------------------

def derive_facets(items: Iterable[CatalogItem]) -> CatalogFacets:
    """Learn the catalog's facets from its items (see the module docstring for the rules)."""
    items = list(items)
    names: dict[str, None] = {}
    for item in items:
        names.update(dict.fromkeys(item.fields))
        names.update(dict.fromkeys(item.attributes))
    facets: list[Facet] = []
    kinds = _item_kinds(items, names)
    for name in names:
        raw = [_raw(item, name) for item in items]
        present = [v for v in raw if v not in (None, "", [])]
        if not present:
            continue
        role = _people_role(name)
        unit = None if role else _numeric_unit(name, present)
        if unit is not None:
            numbers = [n for n in (parse_number(v, unit) for v in present) if n is not None]
            facets.append(Facet(name=name, type="numeric", unit=unit, low=min(numbers), high=max(numbers),
                                items=len(numbers)))
            continue
        parts_per_item = [_parts(v) for v in present]
        if role is not None:
            facets.append(Facet(name=name, type="people", role=role, values=_display_counts(parts_per_item),
                                items=len(present)))
        elif _is_categorical(name, parts_per_item, len(items)):
            # Coverage among the items of the kinds that have the field at all: a podcast's "show" is on every
            # podcast, user tags on a sixth of the films.
            having = {kinds[i] for i, v in enumerate(raw) if v not in (None, "", [])}
            peers = sum(1 for k in kinds if k in having)
            facets.append(Facet(name=name, type="categorical",
                                role="kind" if name.lower() in VOCABULARY.kind_fields else "",
                                values=_display_counts(parts_per_item), items=len(present),
                                hard=len(present) >= _HARD_COVERAGE * peers))
    return CatalogFacets(items=len(items), facets=facets)


def _item_kinds(items: list[CatalogItem], names: Iterable[str]) -> list[str]:
    """Each item's kind (the value of its kind field, if the catalog has one), "" otherwise."""
    field = next((n for n in names if n.lower() in VOCABULARY.kind_fields), None)
    if field is None:
        return [""] * len(items)
    return [value_key(str(_raw(item, field) or "")) for item in items]


def _display_counts(parts_per_item: list[list[str]]) -> dict[str, int]:
    """Items per value, keyed by the value's most common spelling."""
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for parts in parts_per_item:
        for key in {value_key(p) for p in parts if value_key(p)}:
            counts[key] += 1
        for p in parts:
            spellings.setdefault(value_key(p), Counter())[p] += 1
    return {spellings[k].most_common(1)[0][0]: n for k, n in counts.most_common()}


FacetValues = dict[str, "list[str] | float"]


def item_values(item: CatalogItem, facets: CatalogFacets) -> FacetValues:
    """One item's facet values, normalised: a list of value keys for categorical and people facets, a number for
    numeric ones; facets the item lacks are absent."""
    out: dict[str, list[str] | float] = {}
    for facet in facets.facets:
        value = _raw(item, facet.name)
        if value in (None, "", []):
            continue
        if facet.type == "numeric":
            number = parse_number(value, facet.unit)
            if number is not None:
                out[facet.name] = number
        else:
            keys = list(dict.fromkeys(k for k in (value_key(p) for p in _parts(value)) if k))
            if keys:
                out[facet.name] = keys
    return out


def store_metadata(values: Mapping[str, list[str] | float], previous: Mapping[str, object] | None = None
                   ) -> dict[str, object]:
    """Vector-store metadata for an item's facet values; keys of ``previous`` no longer present map to None (the
    store deletes them on update)."""
    meta: dict[str, object] = {metadata_key(k): v for k, v in values.items()}
    for k in previous or {}:
        if metadata_key(k) not in meta:
            meta[metadata_key(k)] = None
    return meta
