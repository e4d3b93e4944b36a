"""The service's parts stand alone: a router works on a bare FastAPI app whose state holds a ``ServingService``, and
the guard works in front of any ASGI app. No model is loaded: the routers here never reach one, or reach a stand-in.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from llmrec.api import Recommendation, RecommendedItem
from llmrec.serving.errors import install_error_handlers
from llmrec.serving.guard import RequestGuard, answered_hosts
from llmrec.serving.metrics import ServiceMetrics
from llmrec.serving.routers import items, monitoring, recommendations
from llmrec.serving.service import ServingService

LOCAL = "http://localhost"


class CannedRecommender:
    """Stands in for the Recommender: one fixed answer per ask."""

    def ask_request(self, request) -> Recommendation:
        return Recommendation(request_id=uuid.uuid4().hex, query=request.query, model="stand-in", backend="stand-in",
                              items=[RecommendedItem(item_id="m1", title="Starlight Drift", rank=1, score=0.0,
                                                     justification="-")])


def bare_app(service: ServingService, *routers, error_handlers: bool = False) -> FastAPI:
    app = FastAPI()
    app.state.service = service
    if error_handlers:
        install_error_handlers(app, service.metrics)
    for router in routers:
        app.include_router(router)
    return app


# ---- routers -----------------------------------------------------------------------------------------------------
def test_the_items_router_alone_serves_items_from_the_service_in_the_app_state(text_workspace):
    app = bare_app(ServingService(text_workspace), items.router)
    with TestClient(app) as c:
        r = c.get("/v1/items/m1")
        assert r.status_code == 200
        assert r.json()["title"] == "Starlight Drift" and r.json()["fields"]["genres"] == "science fiction, drama"
        assert c.get("/v1/items/zzz").status_code == 404
        assert c.get("/v1/recommendations/abc").status_code == 404  # only what was mounted is there
    assert {"/v1/items/{item_id}", "/v1/items/{item_id}/media/{index}"} == set(app.openapi()["paths"])


def test_a_router_alone_answers_errors_in_the_service_shape_once_the_handlers_are_installed(text_workspace):
    app = bare_app(ServingService(text_workspace), items.router, error_handlers=True)
    with TestClient(app) as c:
        r = c.get("/v1/items/zzz/media/0")
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "not_found" and "zzz" in r.json()["error"]["message"]


def test_the_recommendations_router_alone_asks_the_service_and_points_at_the_record(text_workspace):
    service = ServingService(text_workspace, recommender=CannedRecommender())
    with TestClient(bare_app(service, recommendations.router, monitoring.router)) as c:
        r = c.post("/v1/recommendations", json={"query": "space films", "k": 1})
        assert r.status_code == 200, r.text
        assert r.headers["location"] == f"/v1/recommendations/{r.json()['request_id']}"
        health = c.get("/healthz").json()
    assert health["model"] == "ready" and health["queue"] == 0 and health["auth"] == "none"
    assert "llmrec_recommendations_served_total 1" in service.metrics.render()


# ---- the guard ---------------------------------------------------------------------------------------------------
class Echo:
    """The smallest ASGI app: answers 200 with the body it received, and counts the requests that reached it.

    It speaks HTTP only, so its clients are used without ``with`` (which would send the lifespan events)."""

    def __init__(self):
        self.calls = 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})


def guarded(token: str | None = None, allowed_hosts=None, max_body_bytes: int = 100, **kw) -> tuple[RequestGuard, Echo]:
    echo = Echo()
    return RequestGuard(echo, token=token, allowed_hosts=answered_hosts(allowed_hosts, token),
                        max_body_bytes=max_body_bytes, **kw), echo


def test_the_guard_alone_refuses_a_foreign_host_without_a_token_before_the_app_sees_it():
    guard, echo = guarded()
    c = TestClient(guard, base_url="http://evil.example:8000")
    r = c.get("/anything")
    assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden_host" and echo.calls == 0
    c = TestClient(guard, base_url="http://127.0.0.1:8000")
    assert c.get("/anything").status_code == 200 and echo.calls == 1


def test_the_guard_alone_wants_the_token_except_on_open_paths():
    guard, echo = guarded(token="s3cret")
    c = TestClient(guard, base_url="http://evil.example")  # with a token any Host name is answered
    refused = c.get("/v1/items/m1", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert c.get("/healthz").status_code == 200
    assert c.get("/v1/items/m1", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert echo.calls == 2


@pytest.mark.parametrize("body, content_type, status, kind", [
    (b"{" + b" " * 200 + b"}", "application/json", 413, "payload_too_large"),
    (b"query=jazz", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b'{"q": "\xff"}', "application/json", 400, "malformed_body"),
])
def test_the_guard_alone_refuses_bodies_it_will_not_pass_on(body, content_type, status, kind):
    guard, echo = guarded(max_body_bytes=100)
    c = TestClient(guard, base_url=LOCAL)
    r = c.post("/anything", content=body, headers={"Content-Type": content_type})
    assert r.status_code == status and r.json()["error"]["type"] == kind and echo.calls == 0


def test_the_guard_alone_passes_an_accepted_body_on_intact_and_counts_the_request():
    metrics = ServiceMetrics()
    guard, _ = guarded(metrics=metrics)
    c = TestClient(guard, base_url=LOCAL)
    r = c.post("/anything", content=b'{"query": "jazz"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.content == b'{"query": "jazz"}'
    assert r.headers["x-content-type-options"] == "nosniff"
    # With no routes to label by, every request counts as unmatched: raw paths never become metric labels.
    assert 'llmrec_http_requests_total{method="POST",route="unmatched",status="200"} 1' in metrics.render()
