"""The catalog's words for conditions: phrase tables built once per catalog version from its facets and titles.

Every table maps a normalised phrase (``value_key``) to what it names in this catalog: a categorical value (with
its synonyms and plural forms: "sci-fi", "science fiction", "sci-fi films" all name ML's "Sci-Fi"), a person (full
name, or surname when it is one person's), a title (for "like X" anchors; "Godfather, The" is also "the godfather").
Words the vocabulary knows but the catalog lacks ("a podcast" in a film catalog, "anime") are kept too, so the
parser can say so instead of dropping them silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from llmrec.request.facets import CatalogFacets, Facet, value_key
from llmrec.request.vocabulary import VOCABULARY

# The longest phrase worth looking up (titles are matched separately, up to TITLE_TOKENS).
PHRASE_TOKENS = 5
TITLE_TOKENS = 12
_ARTICLES = ("the", "a", "an")


def forms(phrase: str) -> set[str]:
    """A phrase's keys: itself, its plural or singular, without a leading article, without spaces ("sci fi" →
    "scifi")."""
    key = value_key(phrase)
    if not key:
        return set()
    out = {key}
    words = key.split()
    last = words[-1]
    if last.endswith("ies") and len(last) > 4:
        out.add(" ".join(words[:-1] + [last[:-3] + "y"]))
    elif last.endswith("s") and len(last) > 3 and not last.endswith("ss"):
        out.add(" ".join(words[:-1] + [last[:-1]]))
    elif last.endswith("y") and len(last) > 3:
        out.add(" ".join(words[:-1] + [last[:-1] + "ies"]))
    if last[-1:] not in ("s", "y"):
        out.add(" ".join(words[:-1] + [last + "s"]))
    if len(words) > 1:
        out.add(key.replace(" ", ""))
    return out


def title_forms(title: str) -> set[str]:
    """The ways a title is written in a request: as stored, "The Godfather" for "Godfather, The", without its
    leading article, without a trailing year in parentheses."""
    key = value_key(title)
    words = key.split()
    out = {key}
    # MovieLens gives a second title in parentheses ("Amelie (Fabuleux destin d'Amélie Poulain, Le)"): people type
    # either one
    if "(" in title and title.rstrip().endswith(")"):
        first, _, second = title.rstrip()[:-1].partition("(")
        for part in (first, second.removeprefix("a.k.a. ")):
            if value_key(part):
                out |= title_forms(part.strip())
    if len(words) > 1 and words[-1] in _ARTICLES:  # MovieLens' "Godfather, The"
        out.add(" ".join([words[-1]] + words[:-1]))
        out.add(" ".join(words[:-1]))
    if len(words) > 1 and words[0] in _ARTICLES:
        out.add(" ".join(words[1:]))
    return {f for f in out if f}


@dataclass
class Lexicon:
    """Phrase tables of one catalog (see the module docstring)."""

    facets: CatalogFacets
    categorical: dict[str, list[tuple[str, str]]] = field(default_factory=dict)   # key -> [(facet, value)]
    compounds: dict[str, list[list[tuple[str, str]]]] = field(default_factory=dict)  # key -> several conditions
    missing_kinds: dict[str, str] = field(default_factory=dict)   # key -> kind concept the catalog lacks
    missing_genres: dict[str, str] = field(default_factory=dict)  # key -> genre-like word the catalog lacks
    people: dict[str, list[tuple[str, str]]] = field(default_factory=dict)        # full-name key -> [(facet, name)]
    surnames: dict[str, list[str]] = field(default_factory=dict)                  # surname key -> [name key]
    person_items: dict[str, int] = field(default_factory=dict)                    # name key -> items credited
    titles: dict[str, list[str]] = field(default_factory=dict)                    # title key -> item ids
    title_of: dict[str, str] = field(default_factory=dict)                        # item id -> title
    popularity: Mapping[str, int] = field(default_factory=dict)                   # item id -> interactions
    words: frozenset[str] = frozenset()                                           # catalog words (fuzzy guard)

    @classmethod
    def build(cls, facets: CatalogFacets, titles: Mapping[str, str], popularity: Mapping[str, int] | None = None,
              words: frozenset[str] = frozenset()) -> Lexicon:
        lex = cls(facets=facets, title_of=dict(titles), popularity=popularity or {}, words=words)
        lex._add_categorical()
        lex._add_people()
        for item_id, title in titles.items():
            for f in title_forms(title):
                lex.titles.setdefault(f, []).append(item_id)
        return lex

    # ---- categorical ---------------------------------------------------------------------------------------------
    def _add_categorical(self) -> None:
        table: dict[str, set[tuple[str, str]]] = defaultdict(set)
        present: set[str] = set()
        for facet in self.facets.of_type("categorical"):
            if not facet.hard:
                continue
            for value in facet.values:
                for f in forms(value):
                    table[f].add((facet.name, value))
                present.add(value_key(value))
        kind = self.facets.kind()
        if kind is not None:
            self._add_kind_concepts(kind, table)
        else:
            for words in VOCABULARY.kinds.values():
                for w in words:
                    self.missing_kinds.setdefault(value_key(w), w)
        for group in VOCABULARY.genre_groups:
            keys = {k for g in group for k in forms(g)}
            targets = {pair for k in keys for pair in table.get(k, ())
                       if kind is None or pair[0] != kind.name}
            if targets:
                for k in keys:
                    table[k] |= targets
            else:
                for g in group:
                    for k in forms(g):
                        self.missing_genres.setdefault(k, g)
        self.categorical = {k: sorted(v) for k, v in table.items()}
        # "rom-com" is two conditions at once (romance and comedy), not a choice between them
        romance, comedy = self.categorical.get("romance"), self.categorical.get("comedy")
        if romance and comedy:
            for phrase in VOCABULARY.romcom:
                for k in forms(phrase):
                    self.compounds[k] = [romance, comedy]
        for k in list(self.missing_genres):
            if k in self.categorical:
                del self.missing_genres[k]

    def _add_kind_concepts(self, kind: Facet, table: dict[str, set[tuple[str, str]]]) -> None:
        """A catalog kind ("podcast episode") is also named by its concept's words ("podcast", "episodes"); a concept
        the catalog has no value for ("album" in a film catalog) is remembered as missing."""
        for concept, words in VOCABULARY.kinds.items():
            concept_keys = {k for w in words for k in forms(w)}
            values = [v for v in kind.values
                      if value_key(v) in concept_keys or set(value_key(v).split()) & concept_keys]
            for k in concept_keys:
                if values:
                    table[k] |= {(kind.name, v) for v in values}
                elif k not in table:
                    self.missing_kinds.setdefault(k, concept)

    # ---- people --------------------------------------------------------------------------------------------------
    def _add_people(self) -> None:
        counts: dict[str, int] = defaultdict(int)
        table: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for facet in self.facets.of_type("people"):
            for name, n in facet.values.items():
                key = value_key(name)
                if len(key) < 3:
                    continue
                table[key].add((facet.name, name))
                counts[key] += n
        self.people = {k: sorted(v) for k, v in table.items()}
        self.person_items = dict(counts)
        surnames: dict[str, list[str]] = defaultdict(list)
        for key in self.people:
            parts = key.split()
            # "The Dead End Kids" is a troupe, not a Mr Kids: names opening with an article have no surname
            if len(parts) >= 2 and len(parts[-1]) >= 3 and parts[0] not in _ARTICLES:
                surnames[parts[-1]].append(key)
        # most credited first: "Scott" is read as the Scott the catalog credits most, and the note says so
        self.surnames = {s: sorted(ks, key=lambda k: -self.person_items[k]) for s, ks in surnames.items()}
        self._by_initial: dict[str, list[str]] = defaultdict(list)
        for key in [*self.people, *self.surnames]:
            self._by_initial[key[:1]].append(key)

    def close_names(self, typed: str, cutoff: float, surnames_only: bool = False) -> list[str]:
        """Names (or surnames) spelt like ``typed``, best first: only keys with its first letter and a length
        within two, so a misspelling costs a few hundred comparisons, not one per person in the catalog."""
        import difflib

        pool = [k for k in self._by_initial.get(typed[:1], ()) if abs(len(k) - len(typed)) <= 2
                and (k in self.surnames if surnames_only else k in self.people)]
        return difflib.get_close_matches(typed, pool, n=1, cutoff=cutoff)

    def display_name(self, key: str) -> str:
        return self.people[key][0][1]

    def people_facets(self, key: str, role: str | None) -> list[str]:
        """The people facets a mention of this person conditions on: those of ``role`` ("directed by", "starring")
        when the person has such credits; after "by", the direction credits if any (what "a film by" means); with no
        cue ("a De Niro crime movie"), the credit the catalog gives this person most often."""
        credits = {f: self.facets.get(f).values.get(name, 0) for f, name in self.people.get(key, [])
                   if self.facets.get(f) is not None}
        if not credits:
            return []
        wanted = {"any": "direct"}.get(role or "", role)
        narrowed = [f for f in credits if wanted and self.facets.get(f).role == wanted]
        return narrowed or [max(credits, key=lambda f: credits[f])]

    # ---- titles --------------------------------------------------------------------------------------------------
    def best_item(self, ids: list[str]) -> str:
        """Of several items sharing a title (remakes), the one most people interacted with, else the first."""
        return max(ids, key=lambda i: (self.popularity.get(i, 0), -ids.index(i)))
