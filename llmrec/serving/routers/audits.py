"""``POST /v1/audits`` checks the justifications of served recommendations claim by claim;
``GET /v1/recommendations/{id}/audit`` shows one such report as a self-contained HTML page."""

from __future__ import annotations

import anyio
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmrec.audit.record import AuditRecord
from llmrec.audit.report import AuditReport, render_html
from llmrec.serving.errors import ERROR_RESPONSES
from llmrec.serving.schemas import AuditRequest
from llmrec.serving.service import ServiceDep, ServingService

# The audit report is one self-contained page with inline CSS and SVG: it may style itself, never run script.
REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES)


def stored_records(service: ServingService, request_ids: list[str]) -> list[AuditRecord]:
    """The audit records of ``request_ids``, in order; 404 naming the ones the store does not hold."""
    records = [service.record(i) for i in request_ids]
    unknown = [i for i, r in zip(request_ids, records) if r is None]
    if unknown:
        raise StarletteHTTPException(404, f"no recommendation {', '.join(map(repr, unknown[:5]))} in this "
                                          "workspace's audit store")
    return records


async def run_audit(service: ServingService, request_ids: list[str], judge: bool | None = None,
                    faithfulness: bool | None = None) -> AuditReport:
    records = await anyio.to_thread.run_sync(stored_records, service, list(dict.fromkeys(request_ids)))
    return await service.audit(records, judge, faithfulness)


@router.post("/v1/audits", response_model=AuditReport,
             summary="Check the justifications of served recommendations, claim by claim")
async def audit(body: AuditRequest, service: ServiceDep) -> AuditReport:
    return await run_audit(service, body.request_ids, body.judge, body.faithfulness)


@router.get("/v1/recommendations/{request_id}/audit", response_class=HTMLResponse,
            summary="The audit report of one recommendation, as a self-contained HTML page")
async def audit_page(request_id: str, service: ServiceDep) -> HTMLResponse:
    report = await run_audit(service, [request_id])
    # Rendering draws two plots: off the event loop, so /healthz and /metrics stay responsive meanwhile.
    page = await run_in_threadpool(render_html, report)
    return HTMLResponse(page, headers=REPORT_HEADERS)
