"""The HTTP API: the Recommender's verbs and models over FastAPI, with clear errors, a token, limits and metrics.

Most tests drive the app in-process (Starlette's TestClient) around the session's shared Recommender; the
concurrency tests use a slow stand-in for the Recommender so they can hold a request slot as long as they need.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid

import httpx
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from llmrec.audit.record import AuditRecord
from llmrec.errors import BackendUnavailable
from llmrec.api import Recommendation, RecommendedItem
from llmrec.serving.app import create_app
from llmrec.serving.http_commands import register
from llmrec.testing.catalogs import TEXT_ITEMS

IDS = {row[0] for row in TEXT_ITEMS}
TOKEN = "s3cret-token"
LOCAL = "http://localhost"  # without a token the service answers loopback Host names only


@pytest.fixture(scope="module")
def client(text_workspace, recommender):
    with TestClient(create_app(text_workspace, recommender=recommender), base_url=LOCAL,
                    raise_server_exceptions=False) as c:
        yield c


def ask(client, **body) -> httpx.Response:
    return client.post("/v1/recommendations", json=body)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and {"type", "message"} <= set(body["error"]), body
    assert body["error"]["message"].strip()
    return body["error"]


# ---- the verbs ---------------------------------------------------------------------------------------------------
def test_recommendation_answers_with_the_python_api_model(client):
    r = ask(client, query="a gentle science fiction film about space", k=3)
    assert r.status_code == 200, r.text
    rec = Recommendation.model_validate(r.json())
    assert [it.rank for it in rec.items] == [1, 2, 3]
    assert {it.item_id for it in rec.items} <= IDS
    assert rec.backend == "transformers" and rec.model == "smollm2-135m"
    assert r.headers["location"] == f"/v1/recommendations/{rec.request_id}"


def test_served_recommendation_can_be_read_back_as_its_audit_record(client):
    rec = ask(client, query="a podcast about money", k=2).json()
    r = client.get(f"/v1/recommendations/{rec['request_id']}")
    assert r.status_code == 200
    record = AuditRecord.model_validate(r.json())
    assert record.request_id == rec["request_id"]
    assert [it.item_id for it in record.items] == [it["item_id"] for it in rec["items"]]
    assert record.request.query == "a podcast about money" and record.ranking_prompt


def test_each_served_recommendation_adds_exactly_one_audit_record(client, recommender):
    before = recommender.audit_store.count()
    ids = [ask(client, query=q, k=1).json()["request_id"] for q in ("jazz", "bread and recipes")]
    assert recommender.audit_store.count() == before + 2 and len(set(ids)) == 2


def test_unknown_recommendation_id_is_404(client):
    r = client.get(f"/v1/recommendations/{uuid.uuid4().hex}")
    assert r.status_code == 404 and error_of(r)["type"] == "not_found"


def test_known_user_is_served_without_items_they_already_saw(client):
    r = ask(client, query="more space films", user_id="scifi_fan", k=5)
    assert r.status_code == 200
    assert not {"m4", "m1", "m8"} & {it["item_id"] for it in r.json()["items"]}


def test_unknown_user_is_404_naming_the_user(client):
    r = ask(client, query="films", user_id="nobody")
    assert r.status_code == 404
    err = error_of(r)
    assert err["type"] == "unknown_user" and "nobody" in err["message"]


@pytest.mark.parametrize("body, field", [({"query": "x", "k": "many"}, "k"), ({"query": "x", "colour": "red"}, "colour"),
                                         ({"query": "x" * 4001}, "query"), ({"history": "m1"}, "history")])
def test_body_that_does_not_match_the_schema_is_422_naming_the_field(client, body, field):
    r = client.post("/v1/recommendations", json=body)
    assert r.status_code == 422
    err = error_of(r)
    assert err["type"] == "invalid_request" and field in err["message"]
    assert any(d["field"] == field for d in err["details"])


@pytest.mark.parametrize("body, words", [({"query": "   "}, "request is empty"), ({"query": "x", "k": 0}, "k must be"),
                                         ({"history": ["nope"]}, "not in the catalog")])
def test_request_the_recommender_refuses_is_400_with_its_reason(client, body, words):
    r = client.post("/v1/recommendations", json=body)
    assert r.status_code == 400
    err = error_of(r)
    assert err["type"] == "bad_request" and words in err["message"]


def test_audit_checks_each_justification_of_a_served_recommendation(client):
    rec = ask(client, query="a gentle science fiction film about space", k=2).json()
    r = client.post("/v1/audits", json={"request_ids": [rec["request_id"]], "judge": False, "faithfulness": False})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["records"] == 1 and report["overall"]["justifications"] == 2
    verdicts = {v["item_id"]: v for v in report["explanations"]}
    assert set(verdicts) == {it["item_id"] for it in rec["items"]}
    for it in rec["items"]:  # justifications built from card facts are true of the card
        assert verdicts[it["item_id"]]["justification"] == it["justification"]
        assert not verdicts[it["item_id"]]["flags"]["hallucination"]
    page = client.get(f"/v1/recommendations/{rec['request_id']}/audit")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_audit_uses_the_workspace_audit_settings_unless_the_request_sets_them(client, recommender, monkeypatch):
    monkeypatch.setattr(recommender.config.audit, "judge", False)
    monkeypatch.setattr(recommender.config.audit, "judge_threshold", 0.7)
    rec = ask(client, query="jazz", k=1).json()
    r = client.post("/v1/audits", json={"request_ids": [rec["request_id"]], "faithfulness": False})
    assert r.status_code == 200, r.text
    config = r.json()["config"]
    assert config["judge"] is False and config["judge_threshold"] == 0.7 and config["faithfulness"] is False


@pytest.mark.parametrize("body, status", [({"request_ids": ["0" * 32]}, 404), ({"request_ids": []}, 422),
                                          ({"request_ids": ["a"] * 101}, 422), ({"ids": ["a"]}, 422)])
def test_audit_of_unknown_or_malformed_ids_is_a_clear_4xx(client, body, status):
    r = client.post("/v1/audits", json=body)
    assert r.status_code == status
    error_of(r)


def test_item_view_has_the_card_split_into_the_fields_evidence_names(client):
    r = client.get("/v1/items/m1")
    assert r.status_code == 200
    item = r.json()
    assert item["title"] == "Starlight Drift" and item["media"] == []
    assert "science fiction" in item["card_fields"]["genres"]
    assert item["fields"]["genres"] == "science fiction, drama"


def test_unknown_item_and_its_media_are_404(client):
    assert error_of(client.get("/v1/items/zzz"))["type"] == "not_found"
    assert client.get("/v1/items/zzz/media/0").status_code == 404
    assert client.get("/v1/items/m1/media/0").status_code == 404  # m1 has no media


def test_unknown_path_and_wrong_method_get_the_same_error_shape(client):
    assert error_of(client.get("/v2/everything"))["type"] == "not_found"
    r = client.delete("/v1/recommendations")
    assert r.status_code == 405 and error_of(r)["type"] == "method_not_allowed"


def test_openapi_documents_the_verbs_with_the_shared_models(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/recommendations", "/v1/recommendations/{request_id}", "/v1/audits", "/v1/items/{item_id}",
            "/v1/items/{item_id}/media/{index}", "/healthz", "/metrics"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"AskRequest", "Recommendation", "RecommendedItem", "AuditRecord", "ErrorBody"} <= set(schemas)
    post = spec["paths"]["/v1/recommendations"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskRequest")
    assert client.get("/docs").status_code == 200


# ---- health and metrics ------------------------------------------------------------------------------------------
def test_healthz_reports_the_workspace_and_that_no_token_is_needed(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    # What the model is and whether it is loaded depends on the tests before (test_batching.py covers them).
    changing = {"model": "x", "queue": 0, "ready": True, "llm": "x", "backend": "x", "dtype": "x"}
    assert r.json() | changing == {"status": "ok", "version": r.json()["version"], "items": len(IDS), "auth": "none",
                                   **changing}


def _metric(text: str, name: str, **labels) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)$"
    found = [float(m.group(1)) for m in re.finditer(pattern, text, re.M)]
    assert found, f"no sample {name}{{{want}}} in:\n{text}"
    return found[0]


def test_metrics_count_requests_by_route_and_status_and_time_them(text_workspace, recommender):
    with TestClient(create_app(text_workspace, recommender=recommender), base_url=LOCAL) as c:
        ask(c, query="something funny", k=1)
        c.get("/v1/items/m3")
        c.get("/v1/items/nothing")
        r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert _metric(text, "llmrec_http_requests_total", method="POST", route="/v1/recommendations",
                   status="200") == 1
    assert _metric(text, "llmrec_http_requests_total", method="GET", route="/v1/items/{item_id}", status="404") == 1
    assert _metric(text, "llmrec_recommendations_served_total") == 1
    assert _metric(text, "llmrec_http_request_duration_seconds_count", route="/v1/recommendations") == 1
    assert _metric(text, "llmrec_http_request_duration_seconds_bucket", route="/v1/recommendations", le="+Inf") == 1
    assert _metric(text, "llmrec_http_request_duration_seconds_sum", route="/v1/recommendations") > 0
    assert "# TYPE llmrec_http_request_duration_seconds histogram" in text


def test_made_up_paths_do_not_create_new_metric_series(text_workspace, recommender):
    with TestClient(create_app(text_workspace, recommender=recommender), base_url=LOCAL) as c:
        for i in range(5):
            c.get(f"/random/{i}")
        text = c.get("/metrics").text
    assert _metric(text, "llmrec_http_requests_total", method="GET", route="unmatched", status="404") == 5
    assert "/random/" not in text


# ---- token ---------------------------------------------------------------------------------------------------------
def test_with_a_token_the_api_needs_it_but_health_and_the_page_do_not(text_workspace, recommender):
    with TestClient(create_app(text_workspace, recommender=recommender, token=TOKEN)) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": TOKEN}):
            r = c.get("/v1/items/m1", headers=headers)
            assert r.status_code == 401 and error_of(r)["type"] == "unauthorized"
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.post("/v1/recommendations", json={"query": "jazz"}).status_code == 401
        assert c.get("/metrics").status_code == 401
        assert c.get(f"/v1/items/m1?token={TOKEN}").status_code == 401  # never from the URL (it would be logged)
        assert c.get("/v1/items/m1", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert c.get("/healthz").json()["auth"] == "bearer"
        assert c.get("/").status_code == 200 and c.get("/static/app.js").status_code == 200


# ---- backends down, time limits, concurrency ------------------------------------------------------------------------
class SlowRecommender:
    """Stands in for the Recommender: holds the model for ``seconds`` per ask and notes overlapping calls."""

    def __init__(self, seconds: float, release: threading.Event | None = None):
        self.seconds = seconds
        self.release = release  # when given, an ask ends as soon as it is set (at most ``seconds``)
        self.active = 0
        self.max_active = 0
        self.calls = 0
        self._lock = threading.Lock()

    def ask_request(self, request) -> Recommendation:
        with self._lock:
            self.active += 1
            self.calls += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.release is None:
                time.sleep(self.seconds)
            else:
                self.release.wait(self.seconds)
        finally:
            with self._lock:
                self.active -= 1
        return Recommendation(request_id=uuid.uuid4().hex, query=request.query, model="stand-in", backend="stand-in",
                              items=[RecommendedItem(item_id="m1", title="Starlight Drift", rank=1, score=0.0,
                                                     justification="-")])


class DownRecommender:
    def ask_request(self, request):
        raise BackendUnavailable("vLLM server at http://127.0.0.1:9 is not reachable (connection refused); start it "
                                 "with `llmrec llm serve` or configure ranker.fallback_backend")


def test_backend_down_is_503_with_the_reason_and_is_counted(text_workspace):
    with TestClient(create_app(text_workspace, recommender=DownRecommender()), base_url=LOCAL) as c:
        r = c.post("/v1/recommendations", json={"query": "jazz"})
        metrics = c.get("/metrics").text
    assert r.status_code == 503
    err = error_of(r)
    assert err["type"] == "backend_unavailable" and "127.0.0.1:9" in err["message"]
    assert r.headers["retry-after"]
    assert _metric(metrics, "llmrec_backend_errors_total", error="BackendUnavailable") == 1


async def _asgi_client(app):
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url=LOCAL)


def test_health_answers_while_a_long_recommendation_is_running(text_workspace):
    slow = SlowRecommender(seconds=2.0)
    app = create_app(text_workspace, recommender=slow)

    async def scenario():
        async with await _asgi_client(app) as c:
            ask_task = asyncio.create_task(c.post("/v1/recommendations", json={"query": "jazz"}))
            while slow.active == 0:
                await asyncio.sleep(0.01)
            t0 = time.perf_counter()
            health = await c.get("/healthz")
            health_s = time.perf_counter() - t0
            assert not ask_task.done()
            return health, health_s, await ask_task

    health, health_s, answer = asyncio.run(scenario())
    assert health.status_code == 200 and health.json()["queue"] == 1 and health_s < 0.5
    assert answer.status_code == 200


def test_requests_are_answered_at_once_up_to_the_worker_limit(text_workspace):
    slow = SlowRecommender(seconds=0.3)
    app = create_app(text_workspace, recommender=slow, workers=3, queue_limit=10)

    async def scenario():
        async with await _asgi_client(app) as c:
            return await asyncio.gather(*(c.post("/v1/recommendations", json={"query": f"q{i}"}) for i in range(6)))

    answers = asyncio.run(scenario())
    assert [a.status_code for a in answers] == [200] * 6
    assert slow.calls == 6 and slow.max_active == 3


def test_one_worker_answers_requests_one_at_a_time(text_workspace):
    slow = SlowRecommender(seconds=0.1)
    app = create_app(text_workspace, recommender=slow, workers=1)

    async def scenario():
        async with await _asgi_client(app) as c:
            return await asyncio.gather(*(c.post("/v1/recommendations", json={"query": f"q{i}"}) for i in range(4)))

    assert [a.status_code for a in asyncio.run(scenario())] == [200] * 4
    assert slow.calls == 4 and slow.max_active == 1


def test_request_past_the_time_limit_is_504_and_a_queued_one_never_runs(text_workspace):
    # The model call runs until the test releases it (at most 20 s), so "still running" does not depend on how fast
    # a loaded machine gets through the two timeouts.
    release = threading.Event()
    slow = SlowRecommender(seconds=20.0, release=release)
    app = create_app(text_workspace, recommender=slow, request_timeout_s=0.5, workers=1)

    async def scenario():
        async with await _asgi_client(app) as c:
            t0 = time.perf_counter()
            answers = await asyncio.gather(*(c.post("/v1/recommendations", json={"query": "x"}) for _ in range(2)))
            elapsed = time.perf_counter() - t0
            # The timed-out running call still holds the model; the queued one leaves once its own wait for the lock
            # expires in its thread, which a loaded machine may schedule a moment after both answers are back.
            for _ in range(100):
                busy = (await c.get("/healthz")).json()["queue"]
                if busy == 1:
                    break
                await asyncio.sleep(0.05)
            release.set()
            for _ in range(100):  # the running call finishes in its thread
                idle = (await c.get("/healthz")).json()["queue"]
                if idle == 0:
                    break
                await asyncio.sleep(0.05)
            return answers, elapsed, (await c.get("/metrics")).text, busy, idle

    answers, elapsed, metrics, busy, idle = asyncio.run(scenario())
    assert (busy, idle) == (1, 0)
    assert [a.status_code for a in answers] == [504, 504] and elapsed < 5.0  # not the 20 s the call would take
    assert error_of(answers[0])["type"] == "timeout" and "time limit" in error_of(answers[0])["message"]
    assert slow.calls == 1  # the second waited for the lock past its deadline and gave up without running
    assert _metric(metrics, "llmrec_request_timeouts_total") == 2


# ---- the command -------------------------------------------------------------------------------------------------
def test_serve_command_binds_loopback_by_default_and_takes_a_token():
    cli = typer.Typer()

    @cli.callback()
    def _root() -> None:
        pass

    register(cli)
    result = CliRunner().invoke(cli, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "127.0.0.1" in result.output and "--token" in result.output and "LLMREC_TOKEN" in result.output
    for option in ("--workspace", "--port", "--timeout", "--max-body", "--no-justify", "--backend"):
        assert option in result.output


def test_serve_refuses_a_missing_workspace_before_binding(tmp_path):
    cli = typer.Typer()

    @cli.callback()
    def _root() -> None:
        pass

    register(cli)
    result = CliRunner().invoke(cli, ["serve", "--workspace", str(tmp_path / "none")])
    assert result.exit_code != 0 and "does not exist" in str(result.exception)


def test_serve_refuses_a_public_address_without_a_token_unless_told(text_workspace, monkeypatch):
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(kw["host"]))  # the socket is not under test
    cli = typer.Typer()

    @cli.callback()
    def _root() -> None:
        pass

    register(cli)
    refused = CliRunner().invoke(cli, ["serve", "--workspace", str(text_workspace), "--host", "0.0.0.0",
                                       "--no-warm"], env={"LLMREC_TOKEN": ""})
    assert refused.exit_code != 0 and "without --token" in str(refused.exception) and not served
    allowed = CliRunner().invoke(cli, ["serve", "--workspace", str(text_workspace), "--host", "0.0.0.0",
                                       "--no-warm", "--allow-no-token"], env={"LLMREC_TOKEN": ""})
    assert allowed.exit_code == 0, allowed.output
    assert served == ["0.0.0.0"]
