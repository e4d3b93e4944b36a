"""``GET /healthz`` (liveness: answers during long model calls) and ``GET /metrics`` (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from llmrec import __version__
from llmrec.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from llmrec.serving.schemas import Health
from llmrec.serving.service import ServiceDep

router = APIRouter(tags=["service"])


@router.get("/healthz", response_model=Health, summary="Liveness; answers during long asks")
async def healthz(request: Request, service: ServiceDep) -> Health:
    try:
        items = service.workspace.item_count()
    except Exception:  # liveness must not fail on a busy database
        items = -1
    # Whether a token is needed is the guard's business: create_app notes it on the app's state; no note, no guard.
    return Health(version=__version__, model=service.model_state, items=items,
                  auth=getattr(request.app.state, "auth", "none"), queue=service.queue)


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(service: ServiceDep) -> PlainTextResponse:
    return PlainTextResponse(service.metrics.render(), media_type=METRICS_CONTENT_TYPE)
