"""What a request was understood to ask for: hard conditions on facets, "like X" anchors, and the soft rest.

A ``Condition`` is one hard constraint. It is written three ways that must agree: as a Chroma ``where`` filter
(applied inside the vector query), as a Python predicate over an item's facet values (applied to every other candidate
source: collaborative lists, anchors' neighbours), and as an expression a person can type back (``--where
'year<1970'``). ``RequestInterpretation`` is what the request parser returns, what the response shows back and what
the audit record stores.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from llmrec.errors import RequestError
from llmrec.request.facets import CatalogFacets, Facet, metadata_key, value_key

Source = Literal["rules", "llm", "user"]


class Condition(BaseModel):
    """One hard condition. Values of one condition are alternatives (any of them); conditions all hold together."""

    facet: str = Field(description="facet name; for a length in minutes, the first of ``fields``")
    fields: list[str] = Field(description="the catalog fields it tests (several numeric fields of one unit, or "
                              "several credits for a person named without a cue)")
    type: Literal["categorical", "people", "numeric"]
    negate: bool = Field(False, description="an exclusion: items with any of the values (or in the range) are out")
    values: list[str] = Field(default_factory=list, description="display values, any of which satisfies it")
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    text: str = Field("", description="the words of the request it was read from")
    source: Source = "rules"

    # ---- the three ways of writing it -----------------------------------------------------------------------------
    def where(self) -> dict:
        """A Chroma ``where`` clause equal to ``test``."""
        if self.type == "numeric":
            clauses = [self._range_where(metadata_key(f)) for f in self.fields]
        else:
            keys = [value_key(v) for v in self.values]
            op = "$not_contains" if self.negate else "$contains"
            clauses = [{metadata_key(f): {op: k}} for f in self.fields for k in keys]
            if self.negate:
                return _join("$and", clauses)
        return _join("$or", clauses)

    def _range_where(self, key: str) -> dict:
        low_op = "$gte" if self.low_inclusive else "$gt"
        high_op = "$lte" if self.high_inclusive else "$lt"
        if not self.negate:
            parts = []
            if self.low is not None:
                parts.append({key: {low_op: self.low}})
            if self.high is not None:
                parts.append({key: {high_op: self.high}})
            return _join("$and", parts)
        # outside the range: below its low end or above its high end (the field must be there, as in ``test``)
        outside = []
        if self.low is not None:
            outside.append({key: {"$lt" if self.low_inclusive else "$lte": self.low}})
        if self.high is not None:
            outside.append({key: {"$gt" if self.high_inclusive else "$gte": self.high}})
        return _join("$or", outside)

    def test(self, values: Mapping[str, object]) -> bool:
        """Whether an item with these facet values (``llmrec.request.facets.item_values``) satisfies it."""
        if self.type == "numeric":
            numbers = [values[f] for f in self.fields if isinstance(values.get(f), (int, float))]
            if not numbers:
                return False  # an unknown year is not "before 1970", nor known to be outside the eighties
            inside = any(self._in_range(float(n)) for n in numbers)
            return not inside if self.negate else inside
        keys = {value_key(v) for v in self.values}
        found = any(keys & set(values.get(f) or ()) for f in self.fields)
        return not found if self.negate else found

    def _in_range(self, x: float) -> bool:
        if self.low is not None and (x < self.low or (x == self.low and not self.low_inclusive)):
            return False
        if self.high is not None and (x > self.high or (x == self.high and not self.high_inclusive)):
            return False
        return True

    @computed_field(description="the condition as --where / the API's where takes it; give it to ignore to drop it")
    @property
    def expression(self) -> str:
        """The condition as ``--where`` takes it: ``genres=War``, ``genres!=Comedy|Romance``, ``year<1970``,
        ``year=1980..1989``, ``runtime<=90``, ``director=Alfred Hitchcock``."""
        name = "+".join(self.fields) if len(self.fields) > 1 else self.facet
        if self.type != "numeric":
            return f"{name}{'!=' if self.negate else '='}{'|'.join(self.values)}"
        if self.low is not None and self.high is not None:
            if self.low_inclusive and self.high_inclusive:
                value = _num(self.low) if self.low == self.high else f"{_num(self.low)}..{_num(self.high)}"
                return f"{name}{'!=' if self.negate else '='}{value}"
        bound = []
        if self.low is not None:
            bound.append(f"{name}{'>=' if self.low_inclusive else '>'}{_num(self.low)}")
        if self.high is not None:
            bound.append(f"{name}{'<=' if self.high_inclusive else '<'}{_num(self.high)}")
        text = ",".join(bound)
        return f"!({text})" if self.negate else text

    @computed_field(description="the condition as shown to a person")
    @property
    def label(self) -> str:
        """How the condition is shown back to a person: "genres: War", "not Comedy", "year before 1970"."""
        name = self.facet.replace("_", " ")
        if self.type != "numeric":
            values = " or ".join(self.values)
            return f"not {name} {values}" if self.negate else f"{name} = {values}"
        if self.low is not None and self.high is not None and self.low_inclusive and self.high_inclusive:
            text = f"{name} {_num(self.low)}" if self.low == self.high else \
                f"{name} {_num(self.low)}–{_num(self.high)}"
        elif self.high is not None and self.low is None:
            text = f"{name} {'≤' if self.high_inclusive else '<'} {_num(self.high)}"
        elif self.low is not None and self.high is None:
            text = f"{name} {'≥' if self.low_inclusive else '>'} {_num(self.low)}"
        else:
            text = f"{name} {_num(self.low)}–{_num(self.high)}"
        return f"not {text}" if self.negate else text

    def same_target(self, other: Condition) -> bool:
        return self.facet == other.facet and self.negate == other.negate


def _num(x: float | None) -> str:
    return "" if x is None else (f"{x:g}")


def _join(op: str, clauses: list[dict]) -> dict:
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {op: clauses}


class Anchor(BaseModel):
    """A catalog item the request named as a model ("like Arrival"): its neighbours become candidates."""

    item_id: str
    title: str
    text: str = Field("", description="the words of the request it was read from")


class RequestInterpretation(BaseModel):
    """How llmrec read a request; shown back to the person and stored with the recommendation."""

    text: str = ""
    conditions: list[Condition] = Field(default_factory=list)
    anchors: list[Anchor] = Field(default_factory=list)
    soft_text: str = Field("", description="what is embedded: the request without its negated and anchor words")
    about: list[str] = Field(default_factory=list, description="content words no condition consumed")
    avoid: list[str] = Field(default_factory=list, description="negated words that are no facet value ('nothing "
                             "too violent'): pushed down in the ranking, not filtered")
    notes: list[str] = Field(default_factory=list, description="what could not be honoured, or was ambiguous and "
                             "how it was read")
    applied: list[Condition] | None = Field(None, description="the conditions the answer was filtered by when too "
                                            "few items met them all (relaxed: widened or dropped, see the "
                                            "notices); None when they are exactly ``conditions``")
    parsed: bool = Field(True, description="false when the request text was not parsed (--no-parse)")
    parse_ms: float = 0.0

    def is_plain(self) -> bool:
        """Nothing beyond the text itself: the request is embedded exactly as typed (ranks exactly as before)."""
        return not (self.conditions or self.anchors or self.avoid)

    @property
    def effective(self) -> list[Condition]:
        """The conditions the answer is filtered by (``applied`` after relaxing, else ``conditions``)."""
        return self.conditions if self.applied is None else self.applied

    def where(self) -> dict | None:
        clauses = [c.where() for c in self.effective]
        clauses = [c for c in clauses if c]
        return _join("$and", clauses) or None

    def test(self, values: Mapping[str, object]) -> bool:
        return all(c.test(values) for c in self.effective)

    @computed_field(description='the reading in one line: "kind = podcast episode · about: volcanoes"')
    @property
    def summary(self) -> str:
        """One line: "kind = podcast episode · about: volcanoes"."""
        parts = [c.label for c in self.conditions]
        parts += [f"like {a.title}" for a in self.anchors]
        if self.about:
            parts.append("about: " + " ".join(self.about))
        if self.avoid:
            parts.append("less: " + ", ".join(self.avoid))
        return " · ".join(parts) if parts else "(no conditions)"


# --- conditions a person types (--where, the API's ``where``) --------------------------------------------------------

_EXPRESSION = re.compile(r"^\s*(?P<name>[\w+ ]+?)\s*(?P<op>!=|<=|>=|=|<|>)\s*(?P<value>.+?)\s*$")


def parse_expression(text: str, facets: CatalogFacets) -> Condition:
    """A condition from ``facet OP value`` (see ``Condition.expression``); RequestError naming the facets there are
    when the facet is unknown or the value does not fit it."""
    m = _EXPRESSION.match(text)
    if not m:
        raise RequestError(f"cannot read the condition {text!r}: write FACET=VALUE, FACET!=VALUE, FACET<NUMBER, "
                           f"FACET>=NUMBER or FACET=LOW..HIGH (facets: {_names(facets)})")
    names = [n.strip() for n in m.group("name").split("+")]
    found = [facets.get(n) for n in names]
    if any(f is None for f in found):
        missing = [n for n, f in zip(names, found) if f is None]
        raise RequestError(f"this catalog has no facet {missing[0]!r} (condition {text!r}); its facets are: "
                           f"{_names(facets)}")
    facet_list: list[Facet] = found  # type: ignore[assignment]
    kinds = {f.type for f in facet_list}
    if len(kinds) > 1:
        raise RequestError(f"condition {text!r} joins facets of different kinds ({', '.join(sorted(kinds))})")
    op, value = m.group("op"), m.group("value")
    first = facet_list[0]
    if first.type == "numeric":
        return _numeric_expression(text, names, op, value)
    if op not in ("=", "!="):
        raise RequestError(f"{first.name} takes = or != (condition {text!r}), not {op}")
    wanted = [v.strip() for v in value.split("|") if v.strip()]
    keys = {}
    for f in facet_list:
        keys.update(f.keys())
    unknown = [v for v in wanted if value_key(v) not in keys]
    if unknown:
        close = sorted(keys.values(), key=lambda v: -_overlap(v, unknown[0]))[:5]
        raise RequestError(f"{'/'.join(names)} has no value {unknown[0]!r} (condition {text!r}); for example: "
                           f"{', '.join(close)}")
    return Condition(facet=names[0], fields=names, type=first.type, negate=op == "!=",
                     values=[keys[value_key(v)] for v in wanted], text=text, source="user")


def _numeric_expression(text: str, names: list[str], op: str, value: str) -> Condition:
    try:
        if ".." in value:
            low, high = (float(v) for v in value.split("..", 1))
            if op not in ("=", "!="):
                raise ValueError
            return Condition(facet=names[0], fields=names, type="numeric", negate=op == "!=", low=low, high=high,
                             text=text, source="user")
        number = float(value)
    except ValueError:
        raise RequestError(f"condition {text!r}: {names[0]} is numeric; give a number or LOW..HIGH") from None
    bounds = {"<": dict(high=number, high_inclusive=False), "<=": dict(high=number), ">": dict(low=number,
              low_inclusive=False), ">=": dict(low=number), "=": dict(low=number, high=number),
              "!=": dict(low=number, high=number, negate=True)}[op]
    return Condition(facet=names[0], fields=names, type="numeric", text=text, source="user", **bounds)


def _names(facets: CatalogFacets) -> str:
    return ", ".join(f.name for f in facets.facets) or "none (re-run `llmrec ingest` to learn them)"


def _overlap(a: str, b: str) -> int:
    return len(set(value_key(a).split()) & set(value_key(b).split())) * 10 - abs(len(a) - len(b))


def apply_overrides(interpretation: RequestInterpretation, where: Sequence[str], ignore: Sequence[str],
                    facets: CatalogFacets) -> RequestInterpretation:
    """The interpretation with a person's corrections: ``ignore`` drops parsed conditions (by expression or label),
    ``where`` adds conditions, replacing parsed ones on the same facet and side."""
    dropped = {x.strip() for x in ignore if x.strip()}
    kept = [c for c in interpretation.conditions if c.expression not in dropped and c.label not in dropped]
    unmatched = dropped - {c.expression for c in interpretation.conditions} - \
        {c.label for c in interpretation.conditions}
    anchors = [a for a in interpretation.anchors if f"like={a.title}" not in dropped and a.item_id not in dropped]
    unmatched -= {f"like={a.title}" for a in interpretation.anchors} | {a.item_id for a in interpretation.anchors}
    added = [parse_expression(w, facets) for w in where if w.strip()]
    for new in added:
        kept = [c for c in kept if not c.same_target(new)]
    notes = list(interpretation.notes) + [f"nothing to ignore matches {u!r}" for u in sorted(unmatched)]
    return interpretation.model_copy(update={"conditions": kept + added, "anchors": anchors, "notes": notes})
