"""The catalog as the rules see it: every title (to find items a claim names) and the genre vocabulary.

Built once per catalog and shared: finding titles costs a substring test per title variant and a regex only for the
few variants present, so a 10,000-item catalog is cheap to build and to search on every justification.
"""

from __future__ import annotations

import copy
import heapq
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache

from llmrec.catalog.cards import card_fields
from llmrec.claims.text import norm, title_variants
from llmrec.claims.vocabulary import table, words

_ARTICLE = re.compile(r"(?:the|a|an)\s+(.+)$", re.IGNORECASE)


@cache
def whole_words(phrase: str) -> re.Pattern:
    """Case-insensitive pattern of ``phrase`` as whole words."""
    return re.compile(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", re.IGNORECASE)


class Catalog:
    """Titles by item id and the genre words of one catalog."""

    def __init__(self, titles: Mapping[str, str], genres: Iterable[str] = ()):
        """``titles``: item id -> title; ``genres``: the catalog's genre values (from the cards' genres fields)."""
        self.titles = dict(titles)
        self.genres = set(words("genres"))
        self.prose_genres = set(words("genre_words_in_prose"))
        self.aliases: dict[str, str] = table("genre_aliases")
        for g in genres:
            g = norm(g)
            if g and g not in self.genres:
                self.prose_genres.add(g)  # catalog-only genre words are trusted only in genre position
        # (lower-cased variant, item id, variant), longest first; indexed by their first three characters
        self._index = _VariantIndex(_variants(self.titles))
        self._dropped: frozenset[str] = frozenset()  # items of the index a copy no longer holds (``including``)
        self._extra: list[tuple[str, str, str]] = []  # variants a copy added, searched one by one
        self._genre_cache: dict[str, str] = {}
        # genre vocabulary, longest first so "folk horror" is taken before "horror"
        self.genre_terms = sorted({*self.genres, *self.aliases, *self.prose_genres}, key=len, reverse=True)

    @classmethod
    def from_cards(cls, cards: Mapping[str, tuple[str, str]]) -> "Catalog":
        """From ``{item id: (title, card)}``: titles for mention checks, genres fields for the vocabulary."""
        return cls({i: t for i, (t, _) in cards.items()}, genres_of(card for _, card in cards.values()))

    @classmethod
    def from_titles(cls, titles: Iterable[str]) -> "Catalog":
        """A catalog known only by its titles, keyed ``title:<title>`` (``including`` adds the items held by id)."""
        return cls({f"title:{t}": t for t in titles})

    def including(self, held: Mapping[str, str], genres: Iterable[str] = ()) -> "Catalog":
        """This catalog plus the items a caller holds (id -> title: the item, the candidates, the history) and more
        genre words; itself when it has them all. Cheap: the catalog's title variants are reused, not rebuilt."""
        new_genres = {norm(g) for g in genres} - self.genres - self.prose_genres - {""}
        extra = {i: t for i, t in held.items() if self.titles.get(i) != t}
        if not extra and not new_genres:
            return self
        out = copy.copy(self)
        taken = set(extra.values())
        # an item known only by its title ("title:<title>") is replaced by the same item held by id
        dropped = {i for i, t in self.titles.items() if i.startswith("title:") and t in taken} | set(extra)
        out.titles = {**{i: t for i, t in self.titles.items() if i not in dropped}, **extra}
        # The shared index stays as it is; the copy skips what it dropped and searches its few extra variants.
        out._dropped = self._dropped | dropped
        out._extra = list(heapq.merge([v for v in self._extra if v[1] not in dropped], _variants(extra),
                                      key=lambda t: -len(t[0])))
        if new_genres:
            out.prose_genres = self.prose_genres | new_genres
            out.genre_terms = sorted({*out.genres, *out.aliases, *out.prose_genres}, key=len, reverse=True)
        return out

    def title_matches(self, text: str) -> Iterator[tuple[str, str]]:
        """``(item id, variant)`` for every title variant present in ``text`` (any case), longest first; callers
        match each with ``whole_words(variant)`` and decide whether it is written as a title."""
        low = text.lower()
        found = [v for v in self._index.present(low) if v[1] not in self._dropped]
        extra = [v for v in self._extra if v[0] in low]
        for _, item_id, variant in heapq.merge(found, extra, key=lambda t: -len(t[0])):
            yield item_id, variant

    def variants_in(self, text: str) -> list[str]:
        """Title variants present in ``text`` (for keeping them whole when splitting claims)."""
        return [v for _, v in self.title_matches(text)]

    def canonical_genre(self, term: str) -> str:
        return self.aliases.get(term, term)

    def is_genre_phrase(self, text: str) -> bool:
        """Whether ``text`` is a word of the built-in genre vocabulary (a capitalised "Crime Thriller" is no name)."""
        t = norm(text)
        return t in words("genres") or t in words("genre_words_in_prose") or t in self.aliases

    def normalise_genres(self, text: str) -> str:
        """``text`` with genre aliases folded onto catalog spellings ("sci-fi" -> "science fiction")."""
        cached = self._genre_cache.get(text)
        if cached is not None:
            return cached
        out = norm(text)
        for alias in sorted(self.aliases, key=lambda a: -len(a)):
            if alias in out:
                out = re.sub(r"(?<![\w-])" + re.escape(alias) + r"(?![\w-])", self.aliases[alias], out)
        if len(self._genre_cache) > 4096:  # genre fields and cards repeat across claims; bounded all the same
            self._genre_cache.clear()
        self._genre_cache[text] = out
        return out


class _VariantIndex:
    """Title variants by their first three characters: a text can contain a variant only where it contains those, so
    a search tests the few variants whose key occurs in the text instead of every variant of the catalog (a claim
    checked against 20,000 MovieLens variants: one substring test each took 0.3 ms)."""

    def __init__(self, variants: list[tuple[str, str, str]]):
        self.variants = variants  # longest first
        self.by_key: dict[str, list[int]] = {}
        self.short: list[int] = []  # variants under three characters: always tested
        for position, (lv, _, _) in enumerate(variants):
            if len(lv) < 3:
                self.short.append(position)
            else:
                self.by_key.setdefault(lv[:3], []).append(position)

    def present(self, low: str) -> list[tuple[str, str, str]]:
        """The variants in lower-cased ``low``, in the index's order (longest first)."""
        positions = set(self.short)
        for key in {low[i:i + 3] for i in range(len(low) - 2)}:
            positions.update(self.by_key.get(key, ()))
        return [self.variants[p] for p in sorted(positions) if self.variants[p][0] in low]


def _variants(titles: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(lower-cased variant, item id, variant) of every title, longest first, so "Heat 2" is taken before "Heat"."""
    out = []
    for item_id, title in titles.items():
        forms = title_variants(title)  # "Godfather, The" is written "The Godfather"
        for v in list(forms):
            m = _ARTICLE.match(v)  # "The Hollow Choir" is also written "Hollow Choir"
            if m and (len(m.group(1).split()) >= 2 or len(m.group(1)) >= 8):
                forms.add(m.group(1))
        out += [(v.lower(), item_id, v) for v in forms if len(v) >= 2]
    return sorted(out, key=lambda t: -len(t[0]))


def genres_of(cards: Iterable[str]) -> set[str]:
    """The genre values of cards' genres fields."""
    out = set()
    for card in cards:
        for g in re.split(r"[,/|;]", card_fields(card).get("genres", "")):
            if g.strip():
                out.add(g.strip())
    return out
