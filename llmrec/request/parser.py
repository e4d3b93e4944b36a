"""Read a request: hard conditions, "like X" anchors and the soft rest, by deterministic rules over the catalog's own
vocabularies (``Lexicon``).

The passes run in a fixed order, each claiming the tokens it reads so later passes cannot read them again: anchors
first (so the "war" of "like Star Wars" is a title, not a genre), then numbers (so "no more than 90 minutes" is a
comparison, not a negation), then people, then categorical values. Negation is decided last, by scope: a cue ("not",
"no", "nothing", "without", "isn't", "but no", ...) negates what follows it up to the next clause break, so "a horror
film that is not a comedy" excludes comedies and keeps horror. Ambiguity is resolved toward the literal reading and
said in ``notes`` ("'Scott' read as Ridley Scott; also Tony Scott").
"""

from __future__ import annotations

import time

from llmrec.request.conditions import Anchor, Condition, RequestInterpretation
from llmrec.request.lexicon import PHRASE_TOKENS, Lexicon
from llmrec.request.numbers import NumberRules
from llmrec.request.people import PeopleRules
from llmrec.request.state import STOP, Match, ParseState
from llmrec.request.titles import TitleRules
from llmrec.request.tokens import tokenize
from llmrec.request.vocabulary import VOCABULARY


class RequestParser:
    """Turns request text into a ``RequestInterpretation`` for one catalog (its ``Lexicon``)."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self.numbers = NumberRules(lexicon.facets)
        self.titles = TitleRules(lexicon)
        self.people = PeopleRules(lexicon)

    # ---- the verb ------------------------------------------------------------------------------------------------
    def parse(self, text: str) -> RequestInterpretation:
        t0 = time.perf_counter()
        st = ParseState(text, tokenize(text))
        self._only_cues(st)
        self.titles.anchors(st)
        for start, end, cond in self.numbers.read(st):
            st.matches.append(Match(start, end, "numeric", condition=cond))
        self.people.read(st)
        self.titles.bare_titles(st)
        self._categorical(st)
        scopes = self._negation_scopes(st)
        result = self._assemble(st, scopes)
        result.parse_ms = round((time.perf_counter() - t0) * 1000, 3)
        return result

    # ---- passes --------------------------------------------------------------------------------------------------
    def _only_cues(self, st: ParseState) -> None:
        for i in range(len(st.tokens)):
            n = st.cue_at(i, VOCABULARY.only_cues)
            if n > 1:  # "nothing but horror" is horror only; a plain "only" needs no claim
                st.claim(i, i + n, "only")

    def _categorical(self, st: ParseState) -> None:
        lex = self.lexicon
        tokens = st.tokens
        i = 0
        while i < len(tokens):
            for n in range(min(PHRASE_TOKENS, len(tokens) - i), 0, -1):
                key = st.phrase(i, n)
                if not key:
                    continue
                if key in lex.compounds:  # "rom-com": romance and comedy
                    st.claim(i, i + n, "categorical")
                    for pairs in lex.compounds[key]:
                        st.matches.append(Match(i, i + n, "categorical", condition=Condition(
                            facet=pairs[0][0], fields=list(dict.fromkeys(f for f, _ in pairs)), type="categorical",
                            values=list(dict.fromkeys(v for _, v in pairs)), text=st.words(i, i + n))))
                    i += n
                    break
                if key in lex.categorical:
                    pairs = lex.categorical[key]
                    facets = list(dict.fromkeys(f for f, _ in pairs))
                    values = list(dict.fromkeys(v for _, v in pairs))
                    st.claim(i, i + n, "categorical")
                    st.matches.append(Match(i, i + n, "categorical", condition=Condition(
                        facet=facets[0], fields=facets, type="categorical", values=values,
                        text=st.words(i, i + n))))
                    self._kind_inside(st, i, n, facets)
                    i += n
                    break
                missing = lex.missing_kinds.get(key) or lex.missing_genres.get(key)
                if missing is not None and (n > 1 or key not in STOP):
                    what = "items of that kind" if key in lex.missing_kinds else "such genre"
                    st.notes.append(f"this catalog has no {what} ({st.words(i, i + n)!r}); kept as words of the "
                                    "request")
                    st.claim(i, i + n, "missing")
                    self._kind_inside(st, i, n, [])
                    i += n
                    break
            else:
                i += 1

    def _kind_inside(self, st: ParseState, i: int, n: int, facets: list[str]) -> None:
        """A phrase like "family film" or "horror movie" names a genre and, in a catalog of several kinds, a kind:
        its last word still says which kind."""
        kind = self.lexicon.facets.kind()
        last = st.tokens[i + n - 1].key
        if n < 2 or kind is None or kind.name in facets:
            return
        pairs = [p for p in self.lexicon.categorical.get(last, ()) if p[0] == kind.name]
        if pairs:
            st.matches.append(Match(i + n - 1, i + n, "categorical", condition=Condition(
                facet=kind.name, fields=[kind.name], type="categorical",
                values=list(dict.fromkeys(v for _, v in pairs)), text=st.tokens[i + n - 1].text)))

    # ---- negation ------------------------------------------------------------------------------------------------
    def _negation_scopes(self, st: ParseState) -> list[tuple[int, int, int]]:
        """(cue start, scope start, scope end) for every free negation cue."""
        tokens = st.tokens
        breaks = set(VOCABULARY.scope_breaks)
        scopes = []
        i = 0
        while i < len(tokens):
            n = st.cue_at(i, VOCABULARY.negation_cues)
            if not n:
                i += 1
                continue
            start = i + n
            end = start
            while end < len(tokens):
                key = tokens[end].key
                if end > start and (key in breaks or st.cue_at(end, VOCABULARY.negation_cues)):
                    break
                if key == "and" and end > start and not self._and_continues(st, start, end):
                    break
                end += 1
            scopes.append((i, start, end))
            for k in range(i, start):
                st.owner[k] = st.owner[k] or "negation"
            i = end
        return scopes

    def _and_continues(self, st: ParseState, start: int, at: int) -> bool:
        """Whether "and" at ``at`` keeps the negation going: "no horror and comedy" (two values of one facet), "without
        violence and gore" (a short soft tail); "not a comedy and from the eighties" breaks it."""
        breaks = set(VOCABULARY.scope_breaks)
        stop = at + 1
        while stop < len(st.tokens) and st.tokens[stop].key not in breaks and st.tokens[stop].key != "and":
            stop += 1
        inside = {m.kind for m in st.matches if start <= m.start and m.end <= at}
        after = [m for m in st.matches if at < m.start and m.end <= stop]
        if after:
            return all(m.kind in inside for m in after) and after[0].start == at + 1 + \
                (1 if st.tokens[at + 1].key in ("a", "an", "the", "no", "not") else 0)
        return stop - at - 1 <= 2

    # ---- assembly ------------------------------------------------------------------------------------------------
    def _assemble(self, st: ParseState, scopes: list[tuple[int, int, int]]) -> RequestInterpretation:
        def negated(m: Match) -> bool:
            return any(s <= m.start and m.end <= e for _, s, e in scopes)

        conditions: list[Condition] = []
        anchors: list[Anchor] = []
        matches = sorted(st.matches, key=lambda m: m.start)
        previous: Match | None = None
        for m in matches:
            m.negated = negated(m)
            if m.anchor is not None:
                if m.negated:
                    st.notes.append(f"'not like {m.anchor.title}' is read as a soft preference, not a filter")
                else:
                    anchors.append(m.anchor)
                continue
            cond = m.condition
            if m.negated:
                cond = self.numbers.negate(cond) if cond.type == "numeric" else cond.model_copy(update={"negate": True})
            if previous is not None and conditions and self._joins(st, previous, m, conditions[-1], cond):
                conditions[-1] = _merge(conditions[-1], cond)
            else:
                conditions.append(cond)
            previous = m
        conditions = self._drop_trivial(_dedupe(conditions))
        in_scope = [any(s <= k < e for _, s, e in scopes) for k in range(len(st.tokens))]
        avoid = self._avoid(st, scopes)
        about = [t.text for k, t in enumerate(st.tokens) if st.owner[k] is None and not in_scope[k]
                 and not t.punct and t.key not in STOP and t.key not in VOCABULARY.generic_words]
        interp = RequestInterpretation(text=st.text, conditions=conditions, anchors=anchors, about=about,
                                       avoid=avoid, notes=list(dict.fromkeys(st.notes)))
        interp.soft_text = st.text if interp.is_plain() else self._soft_text(st, in_scope)
        return interp

    def _joins(self, st: ParseState, a: Match, b: Match, ca: Condition, cb: Condition) -> bool:
        """Two conditions on one facet are alternatives when "or" (or "/", ",") stands between them, or always when
        they are both exclusions, or both kinds ("a film or a book", "films and books")."""
        if ca.facet != cb.facet or ca.negate != cb.negate or ca.type != cb.type:
            return False
        if ca.negate and ca.type != "numeric":
            return True
        between = [t.key for t in st.tokens[a.end:b.start] if t.key not in ("a", "an", "the", "no", "not")]
        kind = self.lexicon.facets.kind()
        if kind is not None and ca.facet == kind.name and set(between) <= {"or", "and", ",", "/"}:
            return True
        return bool(between) and set(between) <= {"or", ",", "/"} and "or" in between or between == ["/"]

    def _drop_trivial(self, conditions: list[Condition]) -> list[Condition]:
        """A condition every item satisfies ("a movie" in a film catalog) says nothing: leave it out."""
        out = []
        for c in conditions:
            facet = self.lexicon.facets.get(c.facet)
            if (c.type == "categorical" and not c.negate and facet is not None and len(c.fields) == 1
                    and facet.items == self.lexicon.facets.items and len(facet.values) == len(c.values)):
                continue
            out.append(c)
        return out

    def _avoid(self, st: ParseState, scopes: list[tuple[int, int, int]]) -> list[str]:
        out = []
        for _, s, e in scopes:
            words = [t.text for k, t in enumerate(st.tokens[s:e], start=s)
                     if st.owner[k] is None and not t.punct and t.key not in STOP
                     and t.key not in VOCABULARY.generic_words]
            if words:
                out.append(" ".join(words))
        return out

    def _soft_text(self, st: ParseState, in_scope: list[bool]) -> str:
        """The request without its negated parts, anchors and numbers: what the embedding should look for."""
        kept = [k for k, t in enumerate(st.tokens)
                if not in_scope[k] and st.owner[k] not in ("anchor", "numeric", "negation")]
        if not any(st.tokens[k].key not in STOP and not st.tokens[k].punct for k in kept):
            return ""
        # Neighbouring kept tokens keep what stood between them in the text ("rom-com", "Samuel L. Jackson").
        parts = []
        for n, k in enumerate(kept):
            t = st.tokens[k]
            if n and kept[n - 1] == k - 1:
                parts.append(st.text[st.tokens[k - 1].end:t.start])
            elif n:
                parts.append(" ")
            parts.append(t.text)
        return "".join(parts).strip(" ,;")


def _merge(a: Condition, b: Condition) -> Condition:
    if a.type == "numeric":
        low = min(x for x in (a.low, b.low) if x is not None) if a.low is not None and b.low is not None else None
        high = max(x for x in (a.high, b.high) if x is not None) if a.high is not None and b.high is not None else None
        return a.model_copy(update={"low": low, "high": high, "text": f"{a.text} / {b.text}"})
    return a.model_copy(update={"values": list(dict.fromkeys(a.values + b.values)),
                                "fields": list(dict.fromkeys(a.fields + b.fields)),
                                "text": f"{a.text} / {b.text}"})


def _dedupe(conditions: list[Condition]) -> list[Condition]:
    seen = set()
    out = []
    for c in conditions:
        key = (c.expression, c.negate)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
