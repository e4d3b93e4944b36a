"""The claim checker: split a justification into claims, run the rules on each, and label it.

Each claim gets ``supported`` / ``unsupported`` / ``contradicted`` and the findings behind it. Rules decide whatever
they can (what a reader can verify on the card); what they leave open is decided by word overlap: at least
``support_overlap`` of the claim's content words found in its grounds means supported, less means unsupported (an
LLM judge may overrule the latter: see ``llmrec.audit.checks``). Fragments with nothing checkable ("a great pick for
tonight") are opinions, kept aside.
"""

from __future__ import annotations

import re

from llmrec.claims.catalog import Catalog
from llmrec.claims.claim import ClaimWork
from llmrec.claims.grounds import Grounds
from llmrec.claims.rules import RULES
from llmrec.claims.rules.support import measure
from llmrec.claims.split import split_claims
from llmrec.claims.text import dedupe
from llmrec.claims.verdicts import ClaimVerdict, Finding, Verdict

_PAIRED = re.compile(r"\b\w+ and \w+\b")  # "hide and seek", "Dust and Psalms": never split inside
MAX_PROTECTED = 60


class ClaimChecker:
    """Checks justifications against their grounds; one instance per catalog, shared by the justifier and the audit."""

    def __init__(self, catalog: Catalog, support_overlap: float = 0.5):
        self.catalog = catalog
        self.support_overlap = support_overlap

    def check(self, grounds: Grounds, text: str) -> Verdict:
        protected = [grounds.title, *grounds.history.values(), *grounds.fields.values(),
                     *self.catalog.variants_in(text), *_PAIRED.findall(grounds.card)]
        verdict = Verdict(text=text)
        for claim in split_claims(text, [p for p in protected if len(p) <= MAX_PROTECTED]):
            work = ClaimWork(claim.text, text, claim.start)
            for rule in RULES:
                rule(work, grounds, self.catalog)
            verdict.named.extend(i for i in work.named if i not in verdict.named)
            cv = self._label(work, grounds, claim.start, claim.end)
            if cv is None:
                verdict.opinions.append(claim.text)
            else:
                verdict.claims.append(cv)
        verdict.named_history = [i for i in verdict.named if i in grounds.history]
        return verdict

    def _label(self, work: ClaimWork, grounds: Grounds, start: int, end: int) -> ClaimVerdict | None:
        """The claim's verdict; None for an opinion (nothing checkable in it)."""
        findings = work.findings
        cv = ClaimVerdict(text=work.text, start=start, end=end, label="supported", method="rules",
                          findings=findings, evidence=dedupe(e for f in findings for e in f.evidence),
                          sources=[s for f in findings if f.label == "supported" for s in f.sources])
        bad = [f for f in findings if f.label != "supported"]
        if bad:
            cv.label = "contradicted" if any(f.label == "contradicted" for f in bad) else "unsupported"
            cv.rule = next(f.check for f in bad if f.label == cv.label)
            cv.sources = []
            return cv
        support = measure(work, grounds)
        if support is None:
            if not findings:
                return None
            cv.rule = findings[0].check  # only rule-checked facts ("directed by Lena Marsh in 2019")
            return cv
        ok = support.share >= self.support_overlap
        rendered = [s.render() for s in support.sources]
        cv.findings.append(Finding(check="overlap", label="supported" if ok else "unsupported", evidence=rendered,
                                   message=f"{support.share:.0%} of the claim's content words are in the card or "
                                           "history", sources=support.sources))
        cv.evidence = dedupe([*cv.evidence, *rendered])
        cv.support, cv.terms = round(support.share, 4), support.terms
        cv.method = "rules" if len(cv.findings) > 1 and ok else "overlap"
        cv.rule = cv.findings[0].check if cv.method == "rules" else "overlap"
        if ok:
            cv.sources += support.sources
        else:
            cv.label, cv.sources = "unsupported", []  # too little of it is in the grounds
        return cv
