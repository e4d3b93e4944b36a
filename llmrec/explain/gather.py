"""Candidate reasons for one item (``reasons``): read off its card, its facet values, the request as the parser read
it, the user's history and the interaction log. Nothing here decides which reasons are stated (``scoring``) or how
(``realise``); every reason is a fact the claim engine can check against the same card and history."""

from __future__ import annotations

import re

from llmrec.catalog.cards import card_fields
from llmrec.claims.grounds import is_media_field
from llmrec.claims.text import Stems, content_terms
from llmrec.explain.context import JustificationContext, card_key
from llmrec.explain.reasons import SPECIFIC_SHARE, Fact, Quote, Reason
from llmrec.request.facets import Facet, value_key
from llmrec.workspace import StoredItem

# How a sentence uses a field's values, by field name; other people fields say "by", other categorical fields are
# stated only when the request asked for them.
_ROLES = {"director": "direct", "directors": "direct", "cast": "cast", "actors": "cast", "stars": "cast",
          "writer": "write", "writers": "write", "host": "host", "hosts": "host", "artist": "by", "author": "by",
          "authors": "by", "show": "show", "series": "show", "tags": "tag", "genres": "genre", "genre": "genre"}
_UNIT_ROLES = {"year": "year", "minutes": "minutes", "rating10": "rating"}
PEOPLE_ROLES = ("direct", "cast", "write", "host", "by")
SHARED_ROLES = ("genre", "show", "tag", *PEOPLE_ROLES)  # what a history item can have in common with the item
_SPLIT = re.compile(r"\s*[,;|]\s*")
_CLAUSE = re.compile(r"(?<=[.!?;])\s+")
# Media lines of a card ("Audio 1: transcript: "..."; sounds like: speech"): which part holds which kind of text.
_MEDIA_PARTS = (("audio", re.compile(r'transcript: "([^"]*)"')), ("image text", re.compile(r'text in image: "([^"]*)"')),
                ("image tags", re.compile(r"(?:caption|looks like): ([^;]*)")),
                ("audio tags", re.compile(r"sounds like: ([^;]*)")))
_ASKING = re.compile(r"^(?:please\s+)?(?:i(?:'d| would)?\s+(?:like|want|love|need)(?:\s+to\s+(?:see|watch|hear|read))?"
                     r"|i'm\s+looking\s+for|looking\s+for|(?:show|give|find|recommend|suggest|get)(?:\s+me)?)\s+",
                     re.IGNORECASE)
QUOTE_CHARS = 110
ASKED_CHARS = 90


def role_of(facet: Facet) -> str | None:
    """How a sentence states this facet's values (None: it does not)."""
    if facet.role == "kind":
        return "kind"
    if facet.type == "numeric":
        return _UNIT_ROLES.get(facet.unit or "")
    if facet.type == "people":
        return _ROLES.get(facet.name.lower(), "by")
    return _ROLES.get(facet.name.lower(), "value")


def item_facts(item: StoredItem, ctx: JustificationContext) -> list[Fact]:
    """The item's facet values its card states, each with the share of the other candidates that have it too."""
    fields = card_fields(item.card)
    values = ctx.values_of(item)
    others = [ctx.values_of(o) for o in ctx.others.get(item.id, [])]
    out: list[Fact] = []
    for facet in ctx.catalog_facets.facets:
        key, role = card_key(facet.name), role_of(facet)
        raw, mine = fields.get(key), values.get(facet.name)
        if role is None or not raw or mine is None:
            continue
        if facet.type == "numeric":
            parts = [(raw, mine)]
        else:
            parts = [(p, value_key(p)) for p in _SPLIT.split(raw) if value_key(p) in set(mine)]
        for shown, value in parts:
            share = sum(_has(o.get(facet.name), value) for o in others) / len(others) if others else 1.0
            out.append(Fact(field=key, facet=facet.name, role=role, value=shown, share=round(share, 4)))
    return out


def _has(values, value) -> bool:
    if values is None:
        return False
    return value in values if isinstance(values, list) else values == value


def candidate_reasons(item: StoredItem, ctx: JustificationContext) -> list[Reason]:
    """Every reason llmrec could state for recommending ``item`` in this request."""
    facts = item_facts(item, ctx)
    found = [request_reason(item, facts, ctx), *history_reasons(item.id, facts, ctx), collaborative_reason(item, ctx),
             distinct_reason(facts), rating_reason(facts)]
    found = [r for r in found if r is not None]
    if not found:
        found = [r for r in [item_reason(item, facts)] if r is not None]
    return found


def item_reason(item: StoredItem, facts: list[Fact]) -> Reason | None:
    """What the item is (kind, genres, year), else the first clause of its description: the last resort."""
    what = [f for f in facts if f.role in ("kind", "genre", "year")]
    if what:
        return Reason(kind="item", facts=_ordered(what))
    for name, source, text in _pieces(item, {f.field for f in facts}):
        if source == "field" and name in _DESCRIBING:
            clause = _CLAUSE.split(text)[0]
            return Reason(kind="item", quote=Quote(field=name, source="field", text=_cut(clause, [])))
    return None


_DESCRIBING = ("description", "plot", "summary", "overview", "synopsis", "about")


# ---- the request --------------------------------------------------------------------------------------------------

def request_reason(item: StoredItem, facts: list[Fact], ctx: JustificationContext) -> Reason | None:
    """What of the request the item answers: the conditions it meets, stated as its card facts, and a piece of its
    card or media text holding the request's other words."""
    interpretation = ctx.interpretation
    met: list[Fact] = []
    terms: list[str]
    if interpretation is not None and interpretation.parsed:
        values = ctx.values_of(item)
        for c in interpretation.effective:
            if c.negate or not c.test(values):
                continue
            keys = {value_key(v) for v in c.values}
            met += [f for f in facts if f.facet in c.fields and f not in met
                    and (c.type == "numeric" or value_key(f.value) in keys)]
        terms = list(interpretation.about)
    else:  # the request as typed: facts whose values it names, then its other words
        terms = content_terms(ctx.query)
        asked = Stems(ctx.query)
        met = [f for f in facts if f.role != "value" and all(asked.has(w) for w in content_terms(f.value) or ["-"])]
        named = {w for f in met for w in content_terms(f.value)}
        terms = [t for t in terms if t not in named]
    quote = best_quote(item, terms, {f.field for f in facts})
    if not met and quote is None:
        return None
    media_only = quote is not None and quote.media and not _in_text_fields(item, quote.matched)
    if quote is not None:  # the quote says why this item; what every candidate is (a podcast episode) adds nothing
        met = [f for f in met if f.role != "kind" and f.share < 1.0]
    return Reason(kind="request", facts=met, quote=quote, asked=asked_words(ctx.query), media_only=media_only)


def asked_words(query: str) -> str:
    """The request as a sentence can repeat it after "You asked for": its asking words dropped, at most a line."""
    text = _ASKING.sub("", " ".join(query.split())).rstrip(" .!?")
    first = text.split(" ", 1)[0]
    if first[:1].isupper() and first[1:].islower() and first.lower() in _LEADING_WORDS:
        text = text[0].lower() + text[1:]
    if len(text) > ASKED_CHARS:
        text = text[:ASKED_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return text


_LEADING_WORDS = {"a", "an", "the", "some", "something", "anything", "any", "films", "movies", "books", "music",
                  "podcasts", "songs", "albums", "shows", "stories", "more", "another", "one"}


def best_quote(item: StoredItem, terms: list[str], fact_fields: set[str]) -> Quote | None:
    """The clause of the item's card or media text that holds the most request words (text fields before media
    on a tie), cut to a readable length around them."""
    if not terms:
        return None
    best: tuple[int, int, Quote] | None = None
    for name, source, text in _pieces(item, fact_fields):
        for clause in _CLAUSE.split(text):
            stems = Stems(clause)
            matched = [t for t in terms if stems.has(t)]
            if not matched:
                continue
            rank = (len(matched), source == "field")
            if best is None or rank > best[:2]:
                best = (*rank, Quote(field=name, source=source, text=_cut(clause, matched), matched=matched))
    return best[2] if best else None


def _pieces(item: StoredItem, fact_fields: set[str]):
    """(card field, source, text) of every text a quote may come from: text fields and the parts of media lines."""
    for name, value in card_fields(item.card).items():
        if name == "title" or name in fact_fields:
            continue
        if not is_media_field(name):
            yield name, "field", value
            continue
        for source, pattern in _MEDIA_PARTS:
            for m in pattern.finditer(value):
                if m.group(1).strip():
                    yield name, source, m.group(1).strip()


def _cut(clause: str, matched: list[str]) -> str:
    """``clause`` without its closing stop, at most ``QUOTE_CHARS``: a window of whole words around the first match."""
    text = clause.strip().rstrip(".;!?").strip()
    if len(text) <= QUOTE_CHARS:
        return text
    words = text.split()
    at = next((n for n, w in enumerate(words) if any(Stems(w).has(t) for t in matched)), 0)
    start = max(0, at - 6)
    out = []
    for w in words[start:]:
        if len(" ".join([*out, w])) > QUOTE_CHARS:
            break
        out.append(w)
    return " ".join(out).rstrip(",;:")


def _in_text_fields(item: StoredItem, words: list[str]) -> bool:
    """Whether any of ``words`` is in the item's title or a text field (not only in what its media say)."""
    texts = [v for k, v in card_fields(item.card).items() if not is_media_field(k)] + [item.title]
    stems = Stems(" ".join(texts))
    return any(stems.has(w) for w in words)


# ---- the user -----------------------------------------------------------------------------------------------------

def history_reasons(item_id: str, facts: list[Fact], ctx: JustificationContext, most: int = 2) -> list[Reason]:
    """Enjoyed history items that have what the item has: the one sharing the most (rare facts, people and shows
    weigh more), with one more enjoyed item sharing the same facts, and a reason per shared person or show."""
    liked = [h for h in ctx.liked if h.id != item_id]
    # the kind alone ("an album, like the albums you enjoyed") is the weakest tie, taken only when nothing else is
    shareable = [f for f in facts if f.role in (*SHARED_ROLES, "kind")]
    if not liked or not shareable:
        return []
    best: tuple[float, StoredItem, list[Fact]] | None = None
    for n, h in enumerate(liked[:200]):
        values = ctx.values_of(h)
        shared = [f for f in shareable if _has(values.get(f.facet), value_key(f.value))]
        if any(f.role != "kind" for f in shared):
            shared = [f for f in shared if f.role != "kind"]
        if not shared:
            continue
        weight = sum((0.1 if f.role == "kind" else 1.2 - f.share) + (0.8 if f.role in (*PEOPLE_ROLES, "show") else 0.0)
                     for f in shared)
        if best is None or weight > best[0]:
            best = (weight, h, shared)
    if best is None:
        return []
    _, top, shared = best
    named = [top] + [h for h in liked[:200] if h is not top and all(
        _has(ctx.values_of(h).get(f.facet), value_key(f.value)) for f in shared)][:most - 1]
    kind = [f for f in facts if f.role == "kind"]  # the noun: what the item is, shared or not
    sharing = sum(1 for h in liked if all(_has(ctx.values_of(h).get(f.facet), value_key(f.value)) for f in shared))
    return [Reason(kind="history", facts=_ordered([*shared[:3], *kind]), history=[h.id for h in named],
                   history_titles=[h.title for h in named], co_users=sharing,
                   rated_highly=bool(ctx.ratings) and all(ctx.ratings.get(h.id, 0) >= 4.0 for h in named))]


def collaborative_reason(item: StoredItem, ctx: JustificationContext) -> Reason | None:
    """People who enjoyed one of the user's enjoyed items also enjoyed this one: only where the collaborative model
    put the item among the candidates, and only with at least one such person in the log."""
    if ctx.cooccurrence is None or item.id not in ctx.collaborative or not ctx.liked:
        return None
    liked = ctx.liked[:50]
    counts = ctx.cooccurrence(item.id, [h.id for h in liked])
    best = max(liked, key=lambda h: (counts.get(h.id, 0), -liked.index(h)))
    if counts.get(best.id, 0) < 1:
        return None
    return Reason(kind="collaborative", history=[best.id], history_titles=[best.title], co_users=counts[best.id])


# ---- the item -----------------------------------------------------------------------------------------------------

def distinct_reason(facts: list[Fact]) -> Reason | None:
    """What few of the other candidates share: its people first, then its show, genres, tags and year (at most
    two), with its kind as the noun."""
    rare = [f for f in facts if f.share <= SPECIFIC_SHARE and f.role in (*SHARED_ROLES, "year")]
    if not rare:
        return None
    order = (*PEOPLE_ROLES, "show", "genre", "tag", "year")
    rare.sort(key=lambda f: (order.index(f.role), f.share))
    kind = [f for f in facts if f.role == "kind"][:1]
    return Reason(kind="distinct", facts=_ordered([*rare[:2], *kind]))


def rating_reason(facts: list[Fact]) -> Reason | None:
    rated = [f for f in facts if f.role == "rating"]
    return Reason(kind="rating", facts=rated[:1]) if rated else None


def _ordered(facts: list[Fact]) -> list[Fact]:
    """Facts without repeats, in the order a noun phrase states them."""
    order = ("year", "genre", "kind", *PEOPLE_ROLES, "show", "tag", "minutes", "rating", "value")
    unique = list({(f.field, f.value): f for f in facts}.values())
    return sorted(unique, key=lambda f: order.index(f.role) if f.role in order else len(order))
