"""A writer process for the audit store tests: appends N records and prints each request id once committed.

Usage: python store_writer.py DB PREFIX N [PAYLOAD_CHARS]
"""

import sys
import time

from llmrec.audit.record import AuditRecord, CandidateScore
from llmrec.audit.store import AuditStore
from llmrec.api import AskRequest, RecommendedItem


def make_record(request_id: str, payload: int = 0, created_at: float | None = None) -> AuditRecord:
    return AuditRecord(
        request_id=request_id, created_at=time.time() if created_at is None else created_at,
        request=AskRequest(query="something slow and quiet", k=1), config_hash="cfg", model="smollm2-135m",
        backend="transformers", ranking_prompt="x" * payload, history=["m1"],
        candidates=[CandidateScore(item_id="m5", letter="A", shown_position=0, retrieval_rank=0, logprob=-1.0,
                                   score=-1.0)],
        items=[RecommendedItem(item_id="m5", title="Garden of Hours", rank=1, score=-1.0,
                               justification="A gentle drama.", evidence=["card:genres"])])


if __name__ == "__main__":
    db, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    payload = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    store = AuditStore(db)
    for i in range(n):
        rid = f"{prefix}-{i:05d}"
        store.append(make_record(rid, payload))
        print(rid, flush=True)
