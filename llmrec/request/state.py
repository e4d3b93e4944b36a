"""The state one request's parse passes share: its tokens, which pass claimed each, and what they matched."""

from __future__ import annotations

from dataclasses import dataclass, field

from llmrec.request.conditions import Anchor, Condition
from llmrec.request.numbers import cue_after, cue_before
from llmrec.request.tokens import Token

STOP = frozenset("""a an the and or but of to in on at for from with by as is are was were be been it its this that
these those i me my we you your they them he she his her some any very really just too so more most much quite
rather pretty something anything one ones stuff thing things please want wants need would like love looking find
give show get watch listen read see have has had do does did can could should will about into than then also even
set made make makes tonight today weekend night evening maybe perhaps kind sort type good great nice best id im ive
youd youre theyre thats whats lets dont doesnt isnt""".split())
VERB_BEFORE_LIKE = frozenset("i you we they would d really also just might may to do does don't dont didnt "
                              "did feel".split())
SENTENCE_END = frozenset({".", "!", "?", '"'})


@dataclass
class Match:
    start: int
    end: int
    kind: str                       # "anchor" | "numeric" | "people" | "categorical"
    condition: Condition | None = None
    anchor: Anchor | None = None
    negated: bool = False


@dataclass
class ParseState:
    text: str
    tokens: list[Token]
    owner: list[str | None] = field(default_factory=list)  # which pass claimed each token
    matches: list[Match] = field(default_factory=list)
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
