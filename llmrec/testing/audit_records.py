"""Audit records for tests: a small, valid ``AuditRecord`` whose size and time a test chooses."""

from __future__ import annotations

import time

from llmrec.api import AskRequest, RecommendedItem
from llmrec.audit.record import AuditRecord, CandidateScore


def make_record(request_id: str, payload: int = 0, created_at: float | None = None) -> AuditRecord:
    """One served recommendation; ``payload`` characters of ranking prompt make it as large as a test needs."""
    return AuditRecord(
        request_id=request_id, created_at=time.time() if created_at is None else created_at,
        request=AskRequest(query="something slow and quiet", k=1), config_hash="cfg", model="smollm2-135m",
        backend="transformers", ranking_prompt="x" * payload, history=["m1"],
        candidates=[CandidateScore(item_id="m5", letter="A", shown_position=0, retrieval_rank=0, logprob=-1.0,
                                   score=-1.0)],
        items=[RecommendedItem(item_id="m5", title="Garden of Hours", rank=1, score=-1.0,
                               justification="A gentle drama.", evidence=["card:genres"])])
