"""Typed verdicts: each claim's label, the rule that decided it, and the sources (card field, media text line,
history item, request) its findings rest on."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from llmrec.claims.grounds import is_media_field
from llmrec.claims.text import clip

Label = Literal["supported", "unsupported", "contradicted"]
# The rules, by the name findings carry ("overlap" is support by word overlap, "judge" the optional LLM judge).
Rule = Literal["title", "history", "non-candidate", "name", "year", "number", "genre", "award", "overlap", "judge"]
SourceKind = Literal["card", "history", "request", "candidate"]


class Source(BaseModel):
    """One piece of the grounds a finding rests on: a card field (media text lines included), a history item, the
    request, or another candidate."""

    kind: SourceKind
    key: str = Field("", description="card field name ('director', 'image 1') or item id; empty for the request")
    value: str = Field("", description="the field's value or the item's title (clipped), or the request")
    matched: list[str] = Field(default_factory=list, description="the claim's words found there")

    @property
    def media(self) -> bool:
        """A line of text read off the item's media (an image's text, an audio transcript)."""
        return self.kind == "card" and is_media_field(self.key)

    def render(self) -> str:
        """How people read it in a report: ``card:<field> = <value>``, ``history:<id> (<title>)``."""
        if self.kind == "card":
            return f"card:{self.key} = {clip(self.value)}" if self.value else f"card:{self.key}"
        if self.kind == "request":
            return f"request = {clip(self.value)}" if self.value else "request"
        return f"{self.kind}:{self.key} ({self.value})" if self.value else f"{self.kind}:{self.key}"


class Finding(BaseModel):
    """One thing a rule found in a claim."""

    check: Rule = Field(description="the rule that found it")
    label: Label
    message: str
    about: str = Field("", description="the words of the claim it is about ('95', 'Cole Varga', 'The Matrix')")
    evidence: list[str] = Field(default_factory=list, description="card:<field> = value, history:<id> (title)")
    sources: list[Source] = Field(default_factory=list, description="the evidence, typed")

    @model_validator(mode="after")
    def _render_evidence(self) -> "Finding":
        if not self.evidence and self.sources:
            self.evidence = [s.render() for s in self.sources]
        return self


class ClaimVerdict(BaseModel):
    text: str
    start: int
    end: int
    label: Label
    method: Literal["rules", "overlap", "judge"] = Field(description="what decided the label")
    rule: Rule | None = Field(None, description="the rule whose finding decided the label")
    findings: list[Finding] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list, description="what backs the claim, typed")
    support: float | None = Field(None, description="share of the claim's content words found in its grounds; "
                                  "None when rules alone decided it")
    terms: int = Field(0, description="content words the support share is over (verified names included)")
    judge_p_supported: float | None = None


class Flags(BaseModel):
    hallucination: bool = False            # any claim unsupported or contradicted
    non_candidate_mention: bool = False    # names a catalog item that was not among the candidates
    wrong_year_or_number: bool = False     # a year or count that the card does not have
    invented_person_or_title: bool = False # a name or title absent from card, history and request
    unseen_history: bool = False           # "you loved X" for an X not in the user's history


def flags_of(claims: list[ClaimVerdict]) -> Flags:
    findings = [f for c in claims for f in c.findings]
    return Flags(
        hallucination=any(c.label != "supported" for c in claims),
        non_candidate_mention=any(f.check == "non-candidate" for f in findings),
        wrong_year_or_number=any(f.check in ("year", "number") and f.label != "supported" for f in findings),
        invented_person_or_title=any(f.check == "name" and f.label != "supported" for f in findings),
        unseen_history=any(f.check == "history" and f.label != "supported" for f in findings),
    )


class Verdict(BaseModel):
    """The engine's verdict on one justification: its claims, the opinions kept aside, the catalog items it names."""

    text: str
    claims: list[ClaimVerdict] = Field(default_factory=list)
    opinions: list[str] = Field(default_factory=list, description="fragments with nothing checkable in them")
    named: list[str] = Field(default_factory=list, description="ids of the catalog items it names, in order")
    named_history: list[str] = Field(default_factory=list, description="…of which the user's history items")

    @property
    def flags(self) -> Flags:
        return flags_of(self.claims)

    @property
    def grounded(self) -> bool:
        """Every claim supported (opinions aside): nothing a reader could find false."""
        return all(c.label == "supported" for c in self.claims)

    def sources(self, kinds: tuple[str, ...] = ("card", "history", "request", "candidate")) -> list[Source]:
        """What backs the supported claims, in order: each card field, history item or request once, with every
        word found there."""
        merged: dict[tuple[str, str], Source] = {}
        for c in self.claims:
            if c.label != "supported":
                continue
            for s in c.sources:
                if s.kind not in kinds:
                    continue
                seen = merged.setdefault((s.kind, s.key), s.model_copy(update={"matched": []}))
                seen.value = seen.value or s.value
                seen.matched += [w for w in s.matched if w not in seen.matched]
        return list(merged.values())
