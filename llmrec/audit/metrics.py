"""Audit metrics: counts and rates per model/adapter and overall, and the report that carries them with every
checked justification."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from llmrec.audit.checks import ExplanationVerdict
from llmrec.config import AuditConfig

OVERALL = "overall"


class GroupMetrics(BaseModel):
    """Audit metrics of one model + adapter (or of everything), with the counts behind every rate."""

    group: str
    justifications: int = 0
    claims: int = Field(0, description="checkable claims (opinions excluded)")
    supported: int = 0
    unsupported: int = 0
    contradicted: int = 0
    opinions: int = Field(0, description="fragments with nothing checkable, not counted as claims")
    judged: int = Field(0, description="claims the LLM judge labelled")
    grounded_claim_rate: float | None = Field(None, description="supported / claims")
    hallucinations: int = Field(0, description="justifications with an unsupported or contradicted claim")
    hallucination_rate: float | None = None
    non_candidate_mentions: int = 0
    non_candidate_mention_rate: float | None = None
    wrong_year_or_number: int = 0
    invented_person_or_title: int = 0
    unseen_history: int = 0
    faithfulness_tested: int = Field(0, description="justifications citing history that were re-ranked")
    faithful: int = Field(0, description="…of which removing every cited item lowered the item's rank")
    faithfulness_rate: float | None = None
    removals_tested: int = 0
    removals_fell: int = 0
    field_dumps: int = Field(0, description="justifications that paste card fields instead of a sentence")
    field_dump_rate: float | None = None
    personal_eligible: int = Field(0, description="justifications of requests with text or a known history")
    personal: int = Field(0, description="…of which state a request word the card has, or a history item")
    personal_rate: float | None = None
    average_words: float | None = None


class AuditReport(BaseModel):
    created_at: float
    source: str
    since: float | None = None
    config: AuditConfig
    judge_model: str | None = None
    records: int = Field(0, description="stored recommendations audited (0 for an external file)")
    overall: GroupMetrics
    groups: list[GroupMetrics] = Field(default_factory=list)
    explanations: list[ExplanationVerdict] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list, description="input that could not be audited, and why")
    notices: list[str] = Field(default_factory=list)
    seconds: float = 0.0


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def summarise(verdicts: list[ExplanationVerdict], group: str) -> GroupMetrics:
    m = GroupMetrics(group=group, justifications=len(verdicts))
    for v in verdicts:
        m.claims += len(v.claims)
        m.supported += sum(c.label == "supported" for c in v.claims)
        m.unsupported += sum(c.label == "unsupported" for c in v.claims)
        m.contradicted += sum(c.label == "contradicted" for c in v.claims)
        m.judged += sum(c.method == "judge" for c in v.claims)
        m.opinions += len(v.opinions)
        m.hallucinations += v.flags.hallucination
        m.non_candidate_mentions += v.flags.non_candidate_mention
        m.wrong_year_or_number += v.flags.wrong_year_or_number
        m.invented_person_or_title += v.flags.invented_person_or_title
        m.unseen_history += v.flags.unseen_history
        if v.faithfulness is not None:
            m.faithfulness_tested += 1
            m.faithful += v.faithfulness.faithful
            m.removals_tested += len(v.faithfulness.removals)
            m.removals_fell += sum(r.fell for r in v.faithfulness.removals)
        m.field_dumps += v.field_dump
        if v.personal is not None:
            m.personal_eligible += 1
            m.personal += v.personal
    m.grounded_claim_rate = _rate(m.supported, m.claims)
    m.field_dump_rate = _rate(m.field_dumps, m.justifications)
    m.personal_rate = _rate(m.personal, m.personal_eligible)
    m.average_words = round(sum(v.words for v in verdicts) / len(verdicts), 2) if verdicts else None
    m.hallucination_rate = _rate(m.hallucinations, m.justifications)
    m.non_candidate_mention_rate = _rate(m.non_candidate_mentions, m.justifications)
    m.faithfulness_rate = _rate(m.faithful, m.faithfulness_tested)
    return m


def report_of(verdicts: list[ExplanationVerdict], **fields) -> AuditReport:
    groups = sorted({v.group for v in verdicts})
    return AuditReport(created_at=time.time(), overall=summarise(verdicts, OVERALL),
                       groups=[summarise([v for v in verdicts if v.group == g], g) for g in groups],
                       explanations=verdicts, **fields)
