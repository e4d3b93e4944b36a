"""Words from reasons: the sentence a template (``prompts/justification_reasons.j2``) makes of the chosen reasons, and
which reasons a generated sentence states.

Template sentences pass the same checks as generated ones before they are shown: if the full sentence fails them
(a quoted clause the claim splitter reads differently, say), each reason alone is tried, then the same with another
joiner, so what is shown is always something the audit passes, and its evidence is exactly the reasons it states.
"""

from __future__ import annotations

from collections.abc import Sequence

from llmrec.claims import Catalog, Grounds, Verdict
from llmrec.claims.text import Stems, content_terms
from llmrec.explain.acceptance import JustificationChecks, Problem
from llmrec.explain.reasons import Reason
from llmrec.prompts import PromptLibrary, clean

REASONS_TEMPLATE = "justification_reasons.j2"
JOINERS = (": ", " — ")


class Realiser:
    """Renders reasons as one sentence with the template, keeping only what passes the checks."""

    def __init__(self, library: PromptLibrary, checks: JustificationChecks):
        self.library = library
        self.checks = checks

    def sentence(self, reasons: Sequence[Reason], joiner: str = JOINERS[0]) -> str:
        shown = [r.model_dump() for r in without_repeats(reasons)]
        text = self.library.render(REASONS_TEMPLATE, reasons=shown, joiner=joiner).text
        return clean(text, limit=400)

    def realise(self, reasons: Sequence[Reason], grounds: Grounds, catalog: Catalog
                ) -> tuple[str, list[Reason], list[Problem]]:
        """The fullest sentence of ``reasons`` that passes the checks, the reasons it states, and what the
        sentences tried before it failed on."""
        tried: list[Problem] = []
        options = [list(reasons)] + ([[r] for r in reasons] if len(reasons) > 1 else [])
        for joiner in JOINERS:
            for chosen in options:
                text = self.sentence(chosen, joiner)
                _, problems = self.checks.problems(text, grounds, catalog)
                if not problems:
                    return text, chosen, tried
                tried += problems
        # Nothing checkable passed (a card with no usable field): say only what needs no checking.
        return f"{grounds.title} is among the closest matches the catalog has.", [], tried


def without_repeats(reasons: Sequence[Reason]) -> list[Reason]:
    """The reasons as a sentence states them in turn: a fact said once is not said again (its kind, say), unless
    that leaves a part with nothing to say."""
    said: set[tuple[str, str]] = set()
    out = []
    for r in reasons:
        facts = [f for f in r.facts if (f.field, f.value) not in said]
        if any(f.role == "genre" for f in facts):  # "a thriller film", not "thriller"
            facts = [f for f in r.facts if f.role == "kind" or f in facts]
        if len(facts) < len(r.facts) and (facts or r.quote is not None or r.kind == "request"):
            r = r.model_copy(update={"facts": facts})
        said |= {(f.field, f.value) for f in r.facts}
        out.append(r)
    return out


def stated(text: str, reasons: Sequence[Reason], verdict: Verdict) -> list[Reason]:
    """The reasons a sentence states: one of its facts' values, its quoted request words, or its history items
    named (what the claim engine found named)."""
    words = Stems(text)
    named = set(verdict.named_history)
    out = []
    for r in reasons:
        keys = [w for f in r.facts if f.role != "kind" for w in content_terms(f.value)]
        keys += r.quote.matched if r.quote is not None else []
        numbers = [f.value for f in r.facts if f.role in ("year", "minutes", "rating")]
        if (set(r.history) & named) or any(words.has(k) for k in keys) or any(n.split()[0] in text for n in numbers):
            out.append(r)
    return out


def evidence_of(reasons: Sequence[Reason]) -> list[str]:
    """The evidence list of a justification: exactly what its reasons rest on, in order, each once."""
    return list(dict.fromkeys(e for r in reasons for e in r.evidence))
