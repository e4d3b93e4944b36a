"""People in requests: "directed by Hitchcock", "starring Meg Ryan", "a Spielberg movie", "a film by Alfred Hitchkock".

A full name is read in any case; a surname alone only when capitalised or after a cue, and only for someone the catalog
credits more than once; a misspelling is matched to the closest name of the same initial (and said so). The cue picks
the credit: "directed by" the direction, "starring"/"with" the cast, "by" the direction if the person has any; with no
cue, the credit the catalog gives the person most.
"""

from __future__ import annotations

from llmrec.request.conditions import Condition
from llmrec.request.lexicon import Lexicon
from llmrec.request.numbers import cue_keys
from llmrec.request.state import SENTENCE_END, STOP, Match, ParseState
from llmrec.request.vocabulary import VOCABULARY


class PeopleRules:
    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self._people_cues = {role: list(cues) for role, cues in VOCABULARY.people_cues.items()}

    def read(self, st: ParseState) -> None:
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
            st.matches.append(Match(start, end, "people", condition=Condition(
                facet=facets[0], fields=facets, type="people", values=[name], text=st.words(start, end))))
            if how:
                st.notes.append(how)
            i = end

    def _role_of_cue(self, st: ParseState, i: int, cue_len: int) -> str | None:
        if not cue_len:
            return None
        cue = tuple(t.key for t in st.tokens[i - cue_len:i])
        return next((role for role, cues in self._people_cues.items() if cue in {cue_keys(c) for c in cues}), None)

    def _person_at(self, st: ParseState, i: int, cued: bool) -> tuple[int, str, str] | None:
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
        at_start = i == 0 or tokens[i - 1].key in SENTENCE_END
        # A surname typed in lower case counts when the catalog never uses it as a plain word ("hitchcock films",
        # but not "lean" or "stone").
        plain_name = len(t.key) >= 4 and t.key in lex.surnames and t.key not in lex.words
        if not (t.cap or cued or plain_name) or len(t.key) < 3 or t.key in STOP:
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

    def _followed_by_kind(self, st: ParseState, i: int) -> bool:
        nxt = st.tokens[i + 1].key if i + 1 < len(st.tokens) else ""
        return st.tokens[i].text.endswith(("'s", "’s")) or nxt in self.lexicon.categorical or \
            nxt in self.lexicon.missing_kinds
