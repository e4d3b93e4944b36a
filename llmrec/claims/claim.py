"""One claim while the rules check it: the text as written, and a copy in which every span a rule has settled (a
title, a number and its unit, a verified name) is blanked out, so later rules and the word-overlap share see only
what is left to check."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from llmrec.claims.verdicts import Finding, Label, Rule, Source


@dataclass
class ClaimWork:
    text: str    # the claim as written (== source[offset:offset + len(text)])
    source: str  # the whole justification: whether a title opens a sentence is judged there
    offset: int  # where the claim starts in ``source``
    masked: str = ""
    findings: list[Finding] = field(default_factory=list)
    named: list[str] = field(default_factory=list)  # catalog ids the claim names, in order
    names_backed: int = 0  # names the card or history backs: grounded words, like any other

    def __post_init__(self):
        self.masked = self.masked or self.text

    def blank(self, start: int, end: int) -> None:
        """Settle ``text[start:end]``: no later rule or overlap count sees it (positions stay the same)."""
        self.masked = self.masked[:start] + " " * (end - start) + self.masked[end:]

    def add(self, rule: Rule, label: Label, message: str, about: str = "", sources: Iterable[Source] = (),
            evidence: list[str] | None = None) -> Finding:
        finding = Finding(check=rule, label=label, message=message, about=about, sources=list(sources),
                          evidence=evidence or [])
        self.findings.append(finding)
        return finding
