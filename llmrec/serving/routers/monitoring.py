"""``GET /healthz`` (liveness and readiness: answers during long model calls; 503 while the models load) and
``GET /metrics`` (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from llmrec import __version__
from llmrec.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from llmrec.serving.schemas import Health
from llmrec.serving.service import ServiceDep

router = APIRouter(tags=["service"])


@router.get("/healthz", response_model=Health, summary="Liveness and readiness; answers during long asks",
            responses={503: {"model": Health, "description": "the models are loading, or failed to load"}})
async def healthz(request: Request, response: Response, service: ServiceDep) -> Health:
    try:
        items = service.workspace.item_count()
    except Exception:  # liveness must not fail on a busy database
        items = -1
    state = service.model_state
    # 503 tells a load balancer or `llmrec ask` to look elsewhere for now; "idle" (models load on the first request,
    # --no-warm) still takes requests.
    if state == "loading" or state.startswith("unavailable"):
        response.status_code = 503
    # Whether a token is needed is the guard's business: create_app notes it on the app's state; no note, no guard.
    return Health(version=__version__, ready=service.ready, model=state, items=items,
                  auth=getattr(request.app.state, "auth", "none"), queue=service.queue, **service.model_facts())


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(service: ServiceDep) -> PlainTextResponse:
    return PlainTextResponse(service.metrics.render(), media_type=METRICS_CONTENT_TYPE)
