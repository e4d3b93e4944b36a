"""The HTTP service: the ``Recommender``'s verbs over FastAPI, plus the web page, health and Prometheus metrics.

Routes (the same pydantic models as the Python API; OpenAPI at ``/docs`` and ``/openapi.json``), by router:

- ``routers/recommendations.py``  ``POST /v1/recommendations`` (``AskRequest`` → ``Recommendation``, appends one
  audit record), ``POST /v1/recommendations/stream`` (the same answer as JSON lines: the ranked list at once, then
  each justification as it is written, then ``done``), ``GET /v1/recommendations/{id}`` (its ``AuditRecord``)
- ``routers/audits.py``           ``POST /v1/audits``, ``GET /v1/recommendations/{id}/audit`` (an HTML report)
- ``routers/items.py``            ``GET /v1/items/{id}``, ``GET /v1/items/{id}/media/{index}``
- ``routers/monitoring.py``       ``GET /healthz``, ``GET /metrics``
- ``routers/web.py``              ``GET /`` (the web page), ``GET /static/{name}``

Around them: ``ServingService`` (service.py) answers up to ``workers`` requests at once, their model calls batched
(batching.py), with a bounded queue and a deadline, ``RequestGuard``
(guard.py) checks Host, token and body size before any route sees a request, and errors.py gives every error the
body ``{"error": {"type": ..., "message": ...}}``. This module only assembles them.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from llmrec import __version__
from llmrec.config import LLMRecConfig
from llmrec.errors import ConfigError
from llmrec.serving import DEFAULT_MAX_BODY_BYTES, DEFAULT_QUEUE_LIMIT, DEFAULT_REQUEST_TIMEOUT_S, DEFAULT_WORKERS
from llmrec.serving.batching import DEFAULT_BATCH_WINDOW_S, DEFAULT_MAX_BATCH
from llmrec.serving.errors import install_error_handlers
from llmrec.serving.guard import RequestGuard, answered_hosts
from llmrec.serving.routers import audits, items, monitoring, recommendations, web
from llmrec.serving.service import ServingService


def create_app(workspace: str | Path, config: LLMRecConfig | None = None, token: str | None = None,
               recommender=None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S, warm: bool = False,
               allowed_hosts: Collection[str] | None = None, workers: int = DEFAULT_WORKERS,
               queue_limit: int = DEFAULT_QUEUE_LIMIT, max_batch: int = DEFAULT_MAX_BATCH,
               batch_window_s: float = DEFAULT_BATCH_WINDOW_S) -> FastAPI:
    """Build the HTTP app for one workspace.

    Args:
        recommender: an existing ``Recommender`` to serve (tests share one loaded model this way); by default one is
            built from ``workspace`` and ``config``.
        token: when set, every route except the health check, the page shell and the API docs needs
            ``Authorization: Bearer <token>``.
        warm: load the models and run one ranking pass in the background at startup instead of on the first
            request; ``/healthz`` answers 503 ``"ready": false`` until it is done.
        workers, queue_limit: requests answered at once, and running or waiting before a 503 (``ServingService``).
        max_batch, batch_window_s: prompts in one model pass, and how long a pass waits for others (batching.py).
        allowed_hosts: Host names (port optional) answered besides loopback ones, ``"*"`` for any. Default: any name
            with a token; without one, loopback names only (127.0.0.1, localhost, [::1]), so that a web page whose
            DNS name is rebound to this machine cannot use the API or read its audit records.
    """
    if max_body_bytes < 1:
        raise ConfigError("max_body_bytes must be at least 1")
    if request_timeout_s <= 0:
        raise ConfigError("request_timeout_s must be positive")
    token = token or None
    hosts = answered_hosts(allowed_hosts, token)
    if workers < 1 or queue_limit < workers:
        raise ConfigError(f"need 1 <= workers <= queue limit, got {workers} workers and a queue of {queue_limit}")
    service = ServingService(Path(workspace), config, recommender, request_timeout_s, workers, queue_limit,
                             batch_window_s, max_batch)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm:
            service.start_warm_up()
        yield

    app = FastAPI(
        title="llmrec", version=__version__, lifespan=lifespan,
        description="Ask for recommendations in plain language, get ranked catalog items with grounded "
                    "justifications; every answer is recorded and can be audited. Errors have the body "
                    '`{"error": {"type": ..., "message": ...}}`.')
    app.state.service = service
    app.state.auth = "bearer" if token else "none"
    install_error_handlers(app, service.metrics)
    routers = [module.router for module in (recommendations, audits, items, monitoring, web)]
    for router in routers:
        app.include_router(router)
    # Metrics are labelled by route template. Recent FastAPI keeps an included router as one entry without a path,
    # so the guard matches each router's own routes (they carry no prefix) after the app's.
    app.add_middleware(RequestGuard, token=token, allowed_hosts=hosts, max_body_bytes=max_body_bytes,
                       metrics=service.metrics,
                       routes=lambda: [*app.router.routes, *(route for router in routers for route in router.routes)])
    return app
