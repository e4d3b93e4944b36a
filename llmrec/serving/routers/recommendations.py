"""``POST /v1/recommendations`` (``AskRequest`` → ``Recommendation``, the Python API's models) and
``GET /v1/recommendations/{id}``, the audit record every served recommendation leaves behind."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmrec.audit.record import AuditRecord
from llmrec.api import AskRequest, Recommendation
from llmrec.serving.errors import ERROR_RESPONSES
from llmrec.serving.service import ServiceDep

router = APIRouter(tags=["recommendations"], responses=ERROR_RESPONSES)


@router.post("/v1/recommendations", response_model=Recommendation,
             summary="Recommend items for a request (same model as Recommender.ask)")
async def recommend(body: AskRequest, response: Response, service: ServiceDep) -> Recommendation:
    rec = await service.recommend(body)
    response.headers["Location"] = f"/v1/recommendations/{rec.request_id}"
    return rec


@router.get("/v1/recommendations/{request_id}", response_model=AuditRecord,
            summary="The audit record of a served recommendation")
def get_recommendation(request_id: str, service: ServiceDep) -> AuditRecord:
    record = service.record(request_id)
    if record is None:
        raise StarletteHTTPException(404, f"no recommendation {request_id!r} in this workspace's audit store")
    return record
