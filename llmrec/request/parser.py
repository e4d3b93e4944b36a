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

import difflib
import time
from dataclasses import dataclass, field

from llmrec.request.conditions import Anchor, Condition, RequestInterpretation
from llmrec.request.lexicon import PHRASE_TOKENS, TITLE_TOKENS, Lexicon
from llmrec.request.numbers import NumberRules, cue_after, cue_before, cue_keys
from llmrec.request.tokens import Token, tokenize
from llmrec.request.vocabulary import VOCABULARY

_STOP = frozenset("""a an the and or but of to in on at for from with by as is are was were be been it its this that
these those i me my we you your they them he she his her some any very really just too so more most much quite
rather pretty something anything one ones stuff thing things please want wants need would like love looking find
give show get watch listen read see have has had do does did can could should will about into than then also even
set made make makes tonight today weekend night evening maybe perhaps kind sort type good great nice best id im ive
youd youre theyre thats whats lets dont doesnt isnt""".split())
_VERB_BEFORE_LIKE = frozenset("i you we they would d really also just might may to do does don't dont didnt "
                              "did feel".split())
_SENTENCE_END = frozenset({".", "!", "?", '"'})


@dataclass
class _Match:
    start: int
    end: int
    kind: str                       # "anchor" | "numeric" | "people" | "categorical"
    condition: Condition | None = None
    anchor: Anchor | None = None
    negated: bool = False


@dataclass
class _State:
    text: str
    tokens: list[Token]
    owner: list[str | None] = field(default_factory=list)  # which pass claimed each token
    matches: list[_Match] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.owner = [None] * len(self.tokens)

    def free(self, i: int, j: int) -> bool:
        return 0 <= i < j <= len(self.tokens) and all(o is None for o in self.owner[i:j])

    def claim(self, i: int, j: int, who: str) -> None:
        for k in range(i, j):
            self.owner[k] = who

    def words(self, i: int, j: int) -> str:
        return self.text[self.tokens[i].start:self.tokens[j - 1].end] if j > i else ""

    def phrase(self, i: int, n: int) -> str | None:
        """The key of ``n`` tokens from ``i`` (hyphens inside join words), or None when they are not all free words."""
        j = i + n
        if not self.free(i, j):
            return None
        span = self.tokens[i:j]
        if span[0].punct or span[-1].punct:
            return None
        for k, t in enumerate(span):
            # hyphens join words ("sci-fi"); a dot may follow an initial ("Samuel L. Jackson"); nothing else
            if t.punct and not (t.key == "-" or (t.key == "." and k > 0 and len(span[k - 1].key) == 1)):
                return None
        return " ".join(t.key for t in span if not t.punct)

    def cue_before(self, i: int, cues: list[str]) -> int:
        """Length (in tokens) of the longest free cue phrase ending right before ``i``; 0 when none."""
        return cue_before(self, i, cues)[0]

    def cue_at(self, i: int, cues: list[str]) -> int:
        """Length (in tokens) of the longest free cue phrase starting at ``i``; 0 when none."""
        return cue_after(self, i, cues)[0]


class RequestParser:
    """Turns request text into a ``RequestInterpretation`` for one catalog (its ``Lexicon``)."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self.numbers = NumberRules(lexicon.facets)
        v = VOCABULARY
        self._people_cues = {role: list(cues) for role, cues in v.people_cues.items()}
        self._title_words: dict[str, set[str]] | None = None

    # ---- the verb ------------------------------------------------------------------------------------------------
    def parse(self, text: str) -> RequestInterpretation:
        t0 = time.perf_counter()
        st = _State(text, tokenize(text))
        self._only_cues(st)
        self._anchors(st)
        for start, end, cond in self.numbers.read(st):
            st.matches.append(_Match(start, end, "numeric", condition=cond))
        self._people(st)
        self._bare_titles(st)
        self._categorical(st)
        scopes = self._negation_scopes(st)
        result = self._assemble(st, scopes)
        result.parse_ms = round((time.perf_counter() - t0) * 1000, 3)
        return result

    # ---- passes --------------------------------------------------------------------------------------------------
    def _only_cues(self, st: _State) -> None:
        for i in range(len(st.tokens)):
            n = st.cue_at(i, VOCABULARY.only_cues)
            if n > 1:  # "nothing but horror" is horror only; a plain "only" needs no claim
                st.claim(i, i + n, "only")

    def _anchors(self, st: _State) -> None:
        tokens = st.tokens
        for i in range(len(tokens)):
            n = st.cue_at(i, VOCABULARY.anchor_cues)
            if not n:
                continue
            if tokens[i].key == "like" and i > 0 and tokens[i - 1].key in _VERB_BEFORE_LIKE:
                continue  # "I'd like a comedy": the verb, not a comparison
            j = i + n
            quoted = j < len(tokens) and tokens[j].key == '"'
            if quoted:
                j += 1
            found = self._title_at(st, j, require_cap=not quoted)
            if found is not None:
                end, ids = found
                item = self.lexicon.best_item(ids)
                self._add_anchor(st, i, end + (1 if end < len(tokens) and tokens[end].key == '"' else 0), j, end,
                                 item, ids)
            elif j < len(tokens) and (tokens[j].cap or quoted):
                self._fuzzy_anchor(st, i, j)

    def _title_at(self, st: _State, j: int, require_cap: bool) -> tuple[int, list[str]] | None:
        for n in range(min(TITLE_TOKENS, len(st.tokens) - j), 0, -1):
            key = st.phrase(j, n)
            if key and key in self.lexicon.titles:
                real = [t for t in st.tokens[j:j + n] if t.key != "-"]
                if require_cap and len(real) == 1 and not real[0].cap and len(key) < 8:
                    continue  # "like heat" is a mood; "like Heat" the film
                return j + n, self.lexicon.titles[key]
        return None

    def _add_anchor(self, st: _State, cue: int, end: int, j: int, title_end: int, item: str, ids: list[str]) -> None:
        st.claim(cue, end, "anchor")
        title = self.lexicon.title_of[item]
        st.matches.append(_Match(cue, end, "anchor", anchor=Anchor(item_id=item, title=title,
                                                                  text=st.words(cue, end))))
        if len(ids) > 1:
            st.notes.append(f"{len(ids)} items are titled {title!r}; using the most popular ({item})")

    def _fuzzy_anchor(self, st: _State, cue: int, j: int) -> None:
        """A capitalised run after a cue that is no exact title: the closest title when it is close, else a note."""
        tokens = st.tokens
        end = j
        while end < len(tokens) and st.free(end, end + 1) and not tokens[end].punct and \
                (tokens[end].cap or tokens[end].key in ("of", "the", "and", "a", "in", "on", "to")):
            end += 1
        while end > j and not tokens[end - 1].cap:
            end -= 1
        if end == j:
            return
        typed = st.phrase(j, end - j) or ""
        best = self._closest_title(typed)
        if best is not None:
            self._add_anchor(st, cue, end, j, end, self.lexicon.best_item(self.lexicon.titles[best]),
                             self.lexicon.titles[best])
            st.notes.append(f"read {st.words(j, end)!r} as the title {self.lexicon.title_of[st.matches[-1].anchor.item_id]!r}")
        else:
            st.notes.append(f"{st.words(j, end)!r} is not a title in this catalog; kept as words of the request")

    def _closest_title(self, typed: str) -> str | None:
        if len(typed) < 4:
            return None
        if self._title_words is None:
            index: dict[str, set[str]] = {}
            for key in self.lexicon.titles:
                for w in key.split():
                    if len(w) >= 3:
                        index.setdefault(w, set()).add(key)
            self._title_words = index
        pool: set[str] = set()
        for w in typed.split():
            pool |= self._title_words.get(w, set())
            for close in difflib.get_close_matches(w, self._title_words.keys(), n=3, cutoff=0.8) if len(w) >= 4 else ():
                pool |= self._title_words[close]
        scored = [(difflib.SequenceMatcher(None, typed, key).ratio(), key) for key in pool]
        scored = [s for s in scored if s[0] >= 0.85]
        return max(scored)[1] if scored else None

    def _people(self, st: _State) -> None:
        tokens = st.tokens
        lex = self.lexicon
        all_cues = [c for cues in self._people_cues.values() for c in cues]
        i = 0
        while i < len(tokens):
            if not st.free(i, i + 1) or tokens[i].punct:
                i += 1
                continue
            cue_len = st.cue_before(i, all_cues)
            role = self._role_of_cue(st, i, cue_len)
            hit = self._person_at(st, i, cue_len > 0)
            if hit is None:
                i += 1
                continue
            end, key, how = hit
            facets = lex.people_facets(key, role)
            name = lex.display_name(key)
            start = i - cue_len
            st.claim(start, end, "people")
            st.matches.append(_Match(start, end, "people", condition=Condition(
                facet=facets[0], fields=facets, type="people", values=[name], text=st.words(start, end))))
            if how:
                st.notes.append(how)
            i = end

    def _role_of_cue(self, st: _State, i: int, cue_len: int) -> str | None:
        if not cue_len:
            return None
        cue = tuple(t.key for t in st.tokens[i - cue_len:i])
        return next((role for role, cues in self._people_cues.items() if cue in {cue_keys(c) for c in cues}), None)

    def _person_at(self, st: _State, i: int, cued: bool) -> tuple[int, str, str] | None:
        """(end, person key, note) for a person named at ``i``: a full name in any case; a surname or a close
        misspelling only when capitalised (or right after a cue such as "directed by")."""
        lex = self.lexicon
        tokens = st.tokens
        # "Francis Ford Copola" is a misspelt director, not the actor Francis Ford: three capitalised words close to
        # a full name win over an exact match of their first two
        if i + 3 <= len(tokens) and all(t.cap for t in tokens[i:i + 3]) and st.phrase(i, 3) and \
                st.phrase(i, 3) not in lex.people:
            close = lex.close_names(st.phrase(i, 3), 0.9)
            if close:
                return i + 3, close[0], f"read {st.words(i, i + 3)!r} as {lex.display_name(close[0])}"
        for n in range(min(4, len(tokens) - i), 0, -1):
            key = st.phrase(i, n)
            if key and key in lex.people and (n > 1 or cued or tokens[i].cap):
                return i + n, key, ""
        t = tokens[i]
        at_start = i == 0 or tokens[i - 1].key in _SENTENCE_END
        # A surname typed in lower case counts when the catalog never uses it as a plain word ("hitchcock films",
        # but not "lean" or "stone").
        plain_name = len(t.key) >= 4 and t.key in lex.surnames and t.key not in lex.words
        if not (t.cap or cued or plain_name) or len(t.key) < 3 or t.key in _STOP:
            return None
        if t.key in lex.categorical or t.key in lex.missing_kinds or t.key in lex.missing_genres:
            return None  # "for kids" is a genre; a surname that is also a catalog word is not guessed at
        if at_start and t.cap and not cued and not self._followed_by_kind(st, i):
            return None
        if t.key in lex.surnames and (cued or lex.person_items[lex.surnames[t.key][0]] >= 2):
            # a surname alone names someone the catalog credits more than once ("Hitchcock films"), not a
            # one-credit writer who shares a studio's name ("a Disney musical")
            keys = lex.surnames[t.key]
            note = ""
            if len(keys) > 1:
                others = ", ".join(lex.display_name(k) for k in keys[1:4])
                note = f"{t.text!r} read as {lex.display_name(keys[0])} (also: {others})"
            return i + 1, keys[0], note
        # a misspelt name: two tokens (first name exact, surname close) or a capitalised surname alone
        two = f"{t.key} {tokens[i + 1].key}" if i + 1 < len(tokens) and st.free(i + 1, i + 2) and \
            tokens[i + 1].cap else None
        if len(t.key) >= 5 and t.key not in lex.words:
            if two:
                full = lex.close_names(two, 0.85)
                if full:
                    return i + 2, full[0], f"read {st.words(i, i + 2)!r} as {lex.display_name(full[0])}"
            close = lex.close_names(t.key, 0.8, surnames_only=True) if t.key not in lex.surnames else []
            if close and (cued or lex.person_items[lex.surnames[close[0]][0]] >= 2):
                key = lex.surnames[close[0]][0]
                return i + 1, key, f"read {t.text!r} as {lex.display_name(key)}"
        if two and tokens[i + 1].key not in lex.words:  # "Alfred Hitchkock": first name right, surname close
            full = lex.close_names(two, 0.85)
            if full:
                return i + 2, full[0], f"read {st.words(i, i + 2)!r} as {lex.display_name(full[0])}"
        return None

    def _followed_by_kind(self, st: _State, i: int) -> bool:
        nxt = st.tokens[i + 1].key if i + 1 < len(st.tokens) else ""
        return st.tokens[i].text.endswith(("'s", "’s")) or nxt in self.lexicon.categorical or \
            nxt in self.lexicon.missing_kinds

    def _bare_titles(self, st: _State) -> None:
        """A title of two or more capitalised words without a cue ("a Star Wars movie") is an anchor too."""
        tokens = st.tokens
        i = 0
        while i < len(tokens):
            if not (st.free(i, i + 1) and tokens[i].cap):
                i += 1
                continue
            found = self._title_at(st, i, require_cap=True)
            if found is not None and found[0] - i >= 2 and all(t.cap or t.key in ("of", "the", "and", "a", "-")
                                                               for t in tokens[i:found[0]]):
                end, ids = found
                self._add_anchor(st, i, end, i, end, self.lexicon.best_item(ids), ids)
                i = end
            else:
                i += 1

    def _categorical(self, st: _State) -> None:
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
                        st.matches.append(_Match(i, i + n, "categorical", condition=Condition(
                            facet=pairs[0][0], fields=list(dict.fromkeys(f for f, _ in pairs)), type="categorical",
                            values=list(dict.fromkeys(v for _, v in pairs)), text=st.words(i, i + n))))
                    i += n
                    break
                if key in lex.categorical:
                    pairs = lex.categorical[key]
                    facets = list(dict.fromkeys(f for f, _ in pairs))
                    values = list(dict.fromkeys(v for _, v in pairs))
                    st.claim(i, i + n, "categorical")
                    st.matches.append(_Match(i, i + n, "categorical", condition=Condition(
                        facet=facets[0], fields=facets, type="categorical", values=values,
                        text=st.words(i, i + n))))
                    self._kind_inside(st, i, n, facets)
                    i += n
                    break
                missing = lex.missing_kinds.get(key) or lex.missing_genres.get(key)
                if missing is not None and (n > 1 or key not in _STOP):
                    what = "items of that kind" if key in lex.missing_kinds else "such genre"
                    st.notes.append(f"this catalog has no {what} ({st.words(i, i + n)!r}); kept as words of the "
                                    "request")
                    st.claim(i, i + n, "missing")
                    self._kind_inside(st, i, n, [])
                    i += n
                    break
            else:
                i += 1

    def _kind_inside(self, st: _State, i: int, n: int, facets: list[str]) -> None:
        """A phrase like "family film" or "horror movie" names a genre and, in a catalog of several kinds, a kind:
        its last word still says which kind."""
        kind = self.lexicon.facets.kind()
        last = st.tokens[i + n - 1].key
        if n < 2 or kind is None or kind.name in facets:
            return
        pairs = [p for p in self.lexicon.categorical.get(last, ()) if p[0] == kind.name]
        if pairs:
            st.matches.append(_Match(i + n - 1, i + n, "categorical", condition=Condition(
                facet=kind.name, fields=[kind.name], type="categorical",
                values=list(dict.fromkeys(v for _, v in pairs)), text=st.tokens[i + n - 1].text)))

    # ---- negation ------------------------------------------------------------------------------------------------
    def _negation_scopes(self, st: _State) -> list[tuple[int, int, int]]:
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

    def _and_continues(self, st: _State, start: int, at: int) -> bool:
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
    def _assemble(self, st: _State, scopes: list[tuple[int, int, int]]) -> RequestInterpretation:
        def negated(m: _Match) -> bool:
            return any(s <= m.start and m.end <= e for _, s, e in scopes)

        conditions: list[Condition] = []
        anchors: list[Anchor] = []
        matches = sorted(st.matches, key=lambda m: m.start)
        previous: _Match | None = None
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
                 and not t.punct and t.key not in _STOP and t.key not in VOCABULARY.generic_words]
        interp = RequestInterpretation(text=st.text, conditions=conditions, anchors=anchors, about=about,
                                       avoid=avoid, notes=list(dict.fromkeys(st.notes)))
        interp.soft_text = st.text if interp.is_plain() else self._soft_text(st, in_scope)
        return interp

    def _joins(self, st: _State, a: _Match, b: _Match, ca: Condition, cb: Condition) -> bool:
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

    def _avoid(self, st: _State, scopes: list[tuple[int, int, int]]) -> list[str]:
        out = []
        for _, s, e in scopes:
            words = [t.text for k, t in enumerate(st.tokens[s:e], start=s)
                     if st.owner[k] is None and not t.punct and t.key not in _STOP
                     and t.key not in VOCABULARY.generic_words]
            if words:
                out.append(" ".join(words))
        return out

    def _soft_text(self, st: _State, in_scope: list[bool]) -> str:
        """The request without its negated parts, anchors and numbers: what the embedding should look for."""
        kept = [k for k, t in enumerate(st.tokens)
                if not in_scope[k] and st.owner[k] not in ("anchor", "numeric", "negation")]
        if not any(st.tokens[k].key not in _STOP and not st.tokens[k].punct for k in kept):
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
