"""Titles in requests: "like Arrival", "similar to The Godfather", "a Star Wars movie" become anchors, items whose
neighbours the answer draws on; a capitalised run after a cue that is no exact title is matched to the closest title
or reported."""

from __future__ import annotations

import difflib

from llmrec.request.conditions import Anchor
from llmrec.request.lexicon import TITLE_TOKENS, Lexicon
from llmrec.request.state import VERB_BEFORE_LIKE, Match, ParseState
from llmrec.request.vocabulary import VOCABULARY


class TitleRules:
    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self._title_words: dict[str, set[str]] | None = None

    def anchors(self, st: ParseState) -> None:
        tokens = st.tokens
        for i in range(len(tokens)):
            n = st.cue_at(i, VOCABULARY.anchor_cues)
            if not n:
                continue
            if tokens[i].key == "like" and i > 0 and tokens[i - 1].key in VERB_BEFORE_LIKE:
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

    def _title_at(self, st: ParseState, j: int, require_cap: bool) -> tuple[int, list[str]] | None:
        for n in range(min(TITLE_TOKENS, len(st.tokens) - j), 0, -1):
            key = st.phrase(j, n)
            if key and key in self.lexicon.titles:
                real = [t for t in st.tokens[j:j + n] if t.key != "-"]
                if require_cap and len(real) == 1 and not real[0].cap and len(key) < 8:
                    continue  # "like heat" is a mood; "like Heat" the film
                return j + n, self.lexicon.titles[key]
        return None

    def _add_anchor(self, st: ParseState, cue: int, end: int, j: int, title_end: int, item: str, ids: list[str]) -> None:
        st.claim(cue, end, "anchor")
        title = self.lexicon.title_of[item]
        st.matches.append(Match(cue, end, "anchor", anchor=Anchor(item_id=item, title=title,
                                                                  text=st.words(cue, end))))
        if len(ids) > 1:
            st.notes.append(f"{len(ids)} items are titled {title!r}; using the most popular ({item})")

    def _fuzzy_anchor(self, st: ParseState, cue: int, j: int) -> None:
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

    def bare_titles(self, st: ParseState) -> None:
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
