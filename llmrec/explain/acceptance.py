"""Whether a generated justification may be shown: the claim engine's verdict, the same one the audit reaches (no
claim unsupported or contradicted), and the justifier's own stricter policy on top.

The policy refuses what is true but not good enough to show: a sentence too short to say anything, one that names
another candidate (true, but about the wrong item), one that cites nothing from the card or history, and one whose
content words are mostly not backed (``JustificationConfig.min_support``, over the whole sentence). So every sentence
the justifier shows passes the audit, and every sentence the audit flags is refused here, for the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from llmrec.claims import Catalog, ClaimChecker, Grounds, Verdict
from llmrec.claims.catalog import genres_of
from llmrec.claims.text import word_count
from llmrec.config import AuditConfig, JustificationConfig

MIN_WORDS = 4
# The policy's own reasons, beside the engine's rule names ("number", "name", "non-candidate", "overlap", ...).
POLICY_RULES = ("too-short", "other-candidate", "cites-nothing", "support")


@dataclass(frozen=True)
class Problem:
    """Why a sentence must not be shown: the rule that refused it and the words it is about."""

    rule: str
    message: str
    about: str = ""

    def __str__(self) -> str:
        return self.message


class JustificationChecks:
    """The checks a generated justification must pass before it is shown."""

    def __init__(self, config: JustificationConfig | None = None, audit: AuditConfig | None = None):
        """``audit``: the audit's settings (its ``support_overlap`` decides claims here exactly as it does there)."""
        self.config = config or JustificationConfig()
        self.support_overlap = (audit or AuditConfig()).support_overlap
        self._base: tuple[tuple[str, ...], Catalog] | None = None

    def catalog(self, held: Iterable, catalog_titles: Iterable[str] = (), catalog: Catalog | None = None) -> Catalog:
        """The catalog to check against: ``catalog`` when given (the one the audit uses), else one built from
        ``catalog_titles`` (kept until the titles change), plus the items ``held`` (item, candidates, history)."""
        held = list(held)
        if catalog is None:
            titles = tuple(catalog_titles)
            if self._base is None or self._base[0] != titles:
                self._base = (titles, Catalog.from_titles(titles))
            catalog = self._base[1]
        return catalog.including({h.id: h.title for h in held}, genres_of(h.card for h in held))

    def verdict(self, text: str, grounds: Grounds, catalog: Catalog) -> Verdict:
        """The engine's verdict: what the audit (without its judge) finds in ``text``."""
        return ClaimChecker(catalog, self.support_overlap).check(grounds, text)

    def problems(self, text: str, grounds: Grounds, catalog: Catalog) -> tuple[Verdict, list[Problem]]:
        """The verdict on ``text`` and why it must not be shown (empty: it may)."""
        verdict = self.verdict(text, grounds, catalog)
        return verdict, refusals(text, verdict, self.config.min_support)


def refusals(text: str, verdict: Verdict, min_support: float) -> list[Problem]:
    """The engine's flagged findings, then the policy's reasons."""
    out = []
    if word_count(text) < MIN_WORDS:
        out.append(Problem("too-short", "too short"))
    for claim in verdict.claims:
        for f in claim.findings:
            if f.label != "supported" and f.check != "judge":
                out.append(Problem(f.check, f.message, f.about))
            elif f.check == "title" and any(s.kind == "candidate" for s in f.sources):
                out.append(Problem("other-candidate", f"names another item: {f.about!r}", f.about))
    if verdict.grounded and not evidence(verdict):  # (a refused claim cites nothing by definition)
        out.append(Problem("cites-nothing", "cites nothing from the card or history"))
    share = support_share(verdict)
    if share is not None and share < min_support:
        out.append(Problem("support", f"only {share:.0%} of its words are backed by the card, history or request"))
    return out


def support_share(verdict: Verdict) -> float | None:
    """Share of the sentence's content words backed, over every claim word overlap weighed (None: none was)."""
    weighed = [c for c in verdict.claims if c.support is not None]
    total = sum(c.terms for c in weighed)
    return sum(c.support * c.terms for c in weighed) / total if total else None


def evidence(verdict: Verdict) -> list[str]:
    """What a shown sentence declares it relies on: ``card:<field>`` for each card field (media text lines
    included) backing a supported claim, ``history:<id>`` for each history item it names."""
    cards = [f"card:{s.key}" for s in verdict.sources(("card",)) if s.key]
    return cards + [f"history:{h}" for h in verdict.named_history]
