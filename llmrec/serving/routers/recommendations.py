"""``POST /v1/recommendations`` (``AskRequest`` → ``Recommendation``, the Python API's models), its streamed form
``POST /v1/recommendations/stream`` (the ranked list first, then each justification as it is written), and
``GET /v1/recommendations/{id}``, the audit record every served recommendation leaves behind."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Union

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmrec.answer import RankedAnswer
from llmrec.audit.record import AuditRecord
from llmrec.api import AnswerDone, AskRequest, ItemJustification, RankedList, Recommendation
from llmrec.serving.errors import ERROR_RESPONSES, error_detail
from llmrec.serving.schemas import StreamError
from llmrec.serving.service import ServiceDep, ServingService

router = APIRouter(tags=["recommendations"], responses=ERROR_RESPONSES)
log = logging.getLogger(__name__)
NDJSON = "application/x-ndjson"

StreamLine = Annotated[Union[RankedList, ItemJustification, AnswerDone, StreamError], Field(discriminator="event")]

STREAM_DESCRIPTION = (
    "The same answer as `POST /v1/recommendations`, as JSON lines (`application/x-ndjson`, one object per line, "
    "each flushed as soon as it exists), so the ranked list never waits for justifications:\n\n"
    "1. `{\"event\": \"ranked\", ...}`: the ranked items (id, title, rank, score), how the request was read "
    "(`interpretation`), notices, timings of retrieval and ranking;\n"
    "2. `{\"event\": \"justification\", \"item_id\", \"rank\", \"justification\", \"evidence\", \"generated\"}`: "
    "one line per item, in rank order, as each is written;\n"
    "3. `{\"event\": \"done\", \"request_id\", \"timings\"}`: every justification is in and the answer's one audit "
    "record is stored (`GET /v1/recommendations/{request_id}`).\n\n"
    "A request refused before ranking is answered with an error status and the usual error body. A failure after "
    "the list was sent ends the stream with `{\"event\": \"error\", \"error\": {\"type\", \"message\"}}` instead of "
    "`done`; the audit record then holds the justifications written so far, as it does when the client goes away.")


class NDJSONResponse(StreamingResponse, JSONResponse):
    """Streamed JSON lines. ``JSONResponse`` is among its bases only for OpenAPI, which then documents the lines'
    schema instead of a plain string; sending is ``StreamingResponse``'s."""

    media_type = NDJSON


def _line(model: BaseModel) -> bytes:
    return (model.model_dump_json() + "\n").encode("utf-8")


@router.post("/v1/recommendations", response_model=Recommendation,
             summary="Recommend items for a request (same model as Recommender.ask)")
async def recommend(body: AskRequest, response: Response, service: ServiceDep) -> Recommendation:
    rec = await service.recommend(body)
    response.headers["Location"] = f"/v1/recommendations/{rec.request_id}"
    return rec


@router.post("/v1/recommendations/stream", response_class=NDJSONResponse,
             summary="Recommend items, streamed: the ranked list first, then each justification as it is written",
             description=STREAM_DESCRIPTION,
             responses={200: {"model": StreamLine, "description": "JSON lines: one `ranked` line, one "
                              "`justification` line per item, then `done` (or `error`)"}})
async def recommend_stream(body: AskRequest, service: ServiceDep) -> NDJSONResponse:
    answer = await service.rank(body)  # refusals (400, 404, 503, 504) happen here, before any line
    return NDJSONResponse(_answer_lines(service, answer), headers={
        "Location": f"/v1/recommendations/{answer.request_id}", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})  # a reverse proxy must pass each line on as it comes


async def _answer_lines(service: ServingService, answer: RankedAnswer) -> AsyncIterator[bytes]:
    yield _line(answer.ranked)
    try:
        async for justification in service.justifications(answer):
            yield _line(justification)
    except Exception as e:  # noqa: BLE001 - the status is sent: the stream's last line must say what went wrong
        if error_detail(e).type == "internal":  # the unexpected: its traceback belongs in the server log
            log.exception("streamed answer %s failed", answer.request_id)
        yield _line(StreamError(error=error_detail(e)))
        return
    yield _line(AnswerDone(request_id=answer.request_id, timings=answer.recommendation.timings))


@router.get("/v1/recommendations/{request_id}", response_model=AuditRecord,
            summary="The audit record of a served recommendation")
def get_recommendation(request_id: str, service: ServiceDep) -> AuditRecord:
    record = service.record(request_id)
    if record is None:
        raise StarletteHTTPException(404, f"no recommendation {request_id!r} in this workspace's audit store")
    return record
