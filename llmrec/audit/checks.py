"""The audit's checks of a justification: the claim engine's verdict (``llmrec.claims``, the same rules the justifier
applies before showing a sentence), the LLM judge on the claims those rules leave open, and the audit record's
context (who asked, which model, what the system itself cited).

The judge only ever sees claims that word overlap left unsupported, and only a confident answer changes them, so the
audit never flags a sentence the justifier accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from llmrec.audit.faithfulness import FaithfulnessResult
from llmrec.claims import Catalog, ClaimChecker, ClaimVerdict, Finding, Flags, Grounds, flags_of
from llmrec.claims.text import dedupe, word_count
from llmrec.config import AuditConfig
from llmrec.explain.usefulness import is_field_dump, is_personal

if TYPE_CHECKING:
    from llmrec.audit.judge import ClaimJudge


class ExplanationVerdict(BaseModel):
    """The audit of one justification."""

    item_id: str
    title: str
    justification: str
    declared_evidence: list[str] = Field(default_factory=list, description="the evidence the system itself cited")
    request_id: str | None = None
    group: str = Field("", description="model + adapter that produced it, or the external file's name")
    user_id: str | None = None
    query: str = ""
    card: str = ""
    claims: list[ClaimVerdict] = Field(default_factory=list)
    opinions: list[str] = Field(default_factory=list, description="fragments with nothing checkable in them")
    flags: Flags = Field(default_factory=Flags)
    cited_history: list[str] = Field(default_factory=list)
    faithfulness: FaithfulnessResult | None = None
    field_dump: bool = Field(False, description="card fields pasted together instead of a sentence")
    personal: bool | None = Field(None, description="states a request word the card has or a history item "
                                  "(``llmrec.explain.usefulness``); None when there was neither request text nor "
                                  "history")
    words: int = 0


class ExplanationChecker:
    """Checks justifications against cards and histories; one instance per catalog."""

    def __init__(self, titles: Mapping[str, str], genre_vocabulary: Iterable[str] = (),
                 judge: "ClaimJudge | None" = None, config: AuditConfig | None = None,
                 catalog: Catalog | None = None):
        """``titles``: item id -> title of the whole catalog; ``genre_vocabulary``: its genre values (or pass the
        ``catalog`` already built)."""
        self.config = config or AuditConfig()
        self.judge = judge if self.config.judge else None
        self.catalog = catalog or Catalog(titles, genre_vocabulary)
        self.claims = ClaimChecker(self.catalog, support_overlap=self.config.support_overlap)

    @property
    def titles(self) -> dict[str, str]:
        return self.catalog.titles

    @classmethod
    def from_cards(cls, cards: Mapping[str, tuple[str, str]], judge: "ClaimJudge | None" = None,
                   config: AuditConfig | None = None) -> "ExplanationChecker":
        """Build from ``{item id: (title, card)}``: titles for mention checks, genres fields for the vocabulary."""
        return cls({}, judge=judge, config=config, catalog=Catalog.from_cards(cards))

    def check(self, grounds: Grounds, justification: str, **meta) -> ExplanationVerdict:
        return self.check_many([(grounds, justification, meta)])[0]

    def check_many(self, jobs: Sequence[tuple[Grounds, str, dict]]) -> list[ExplanationVerdict]:
        """Check several justifications; the judge sees every open claim of the batch in one pass each."""
        verdicts, open_claims = [], []
        for grounds, text, meta in jobs:
            verdict = self._verdict(grounds, text, meta)
            verdicts.append(verdict)
            # word overlap left these unsupported: the only claims the judge may decide
            open_claims += [(grounds, c) for c in verdict.claims if c.method == "overlap" and c.label != "supported"]
        if open_claims and self.judge is not None:
            scores = self.judge.judge([(g, c.text) for g, c in open_claims], batch_size=self.config.judge_batch_size)
            for (_, claim), score in zip(open_claims, scores):
                _apply_judge(claim, score)
        for verdict in verdicts:
            verdict.flags = flags_of(verdict.claims)
        return verdicts

    def _verdict(self, grounds: Grounds, text: str, meta: dict) -> ExplanationVerdict:
        found = self.claims.check(grounds, text)
        declared = list(meta.get("evidence", []))
        cited = [e.split(":", 1)[1] for e in declared if e.startswith("history:")] + found.named_history
        personal = is_personal(found, grounds) if grounds.query.strip() or grounds.history else None
        return ExplanationVerdict(item_id=grounds.item_id, title=grounds.title, justification=text,
                                  card=grounds.card, user_id=meta.get("user_id"), query=grounds.query,
                                  request_id=meta.get("request_id"), group=meta.get("group", ""),
                                  declared_evidence=declared, claims=found.claims, opinions=found.opinions,
                                  cited_history=dedupe(h for h in cited if h in grounds.history),
                                  field_dump=is_field_dump(text, grounds.card), personal=personal,
                                  words=word_count(text))


def _apply_judge(claim: ClaimVerdict, score) -> None:
    claim.judge_p_supported = round(score.p_supported, 4)
    probabilities = (f"p(supported)={score.p_supported:.2f}, p(unsupported)={score.p_unsupported:.2f}, "
                     f"p(contradicted)={score.p_contradicted:.2f}")
    if score.label is None:  # abstained: the overlap label stands
        claim.findings.append(Finding(check="judge", label=claim.label,
                                      message=f"LLM judge abstained ({probabilities})"))
        return
    claim.label, claim.method, claim.rule = score.label, "judge", "judge"
    claim.findings.append(Finding(check="judge", label=score.label, message=f"LLM judge: {probabilities}"))
