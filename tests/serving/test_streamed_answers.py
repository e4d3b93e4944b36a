"""``POST /v1/recommendations/stream``: the ranked list is sent before any justification is written, then one line per
justification in rank order, then ``done``; the answer leaves exactly one audit record, holding every justification.

A real server on loopback (uvicorn in a thread) so lines arrive as the service flushes them; the justifier is the
real one, held at a gate where a test must know that the list arrived while justifications were still unwritten.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from llmrec.api import AnswerDone, ItemJustification, RankedList, Recommendation
from llmrec.serving.app import create_app
from llmrec.testing.catalogs import TEXT_ITEMS
from llmrec.testing.gated import gate_justifier
from llmrec.testing.server import BackgroundServer

pytestmark = pytest.mark.server

IDS = {row[0] for row in TEXT_ITEMS}
QUERY = {"query": "a gentle science fiction film about space", "k": 3}


def _gated_app(workspace, backend, batch: int | None = None):
    """An app serving a Recommender whose justifier waits at a gate (set after the app is built: the service may
    rebuild the recommender's components around its own backend wrapper)."""
    from llmrec.recommender import Recommender

    rec = Recommender(workspace)
    rec.config.justification.enabled = False  # card-fact justifications: fast, and each still goes through here
    rec.config.justification.batch = batch
    rec.__dict__["backend"] = backend
    app = create_app(workspace, recommender=rec)
    gate_justifier(rec)
    return app, rec


@pytest.fixture(scope="module")
def served(text_workspace, recommender):
    with BackgroundServer(create_app(text_workspace, recommender=recommender)) as url:
        yield url


def stream(url: str, body: dict) -> tuple[httpx.Response, list[dict]]:
    with httpx.stream("POST", url + "/v1/recommendations/stream", json=body, timeout=120) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line.strip()]
    return r, lines


def test_the_stream_sends_the_ranked_list_then_one_justification_per_item_in_rank_order_then_done(served,
                                                                                                   recommender):
    before = recommender.audit_store.count()
    r, lines = stream(served, QUERY)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    assert [line["event"] for line in lines] == ["ranked", "justification", "justification", "justification", "done"]
    ranked = RankedList.model_validate(lines[0])
    assert [it.rank for it in ranked.items] == [1, 2, 3] and {it.item_id for it in ranked.items} <= IDS
    assert ranked.interpretation is not None and ranked.timings.rank_s > 0
    justifications = [ItemJustification.model_validate(line) for line in lines[1:4]]
    assert [(j.item_id, j.rank) for j in justifications] == [(it.item_id, it.rank) for it in ranked.items]
    assert all(j.justification.strip() and j.evidence for j in justifications)
    done = AnswerDone.model_validate(lines[-1])
    assert done.request_id == ranked.request_id and r.headers["location"] == f"/v1/recommendations/{done.request_id}"
    assert done.timings.total_s >= ranked.timings.total_s

    assert recommender.audit_store.count() == before + 1
    record = httpx.get(served + f"/v1/recommendations/{done.request_id}", timeout=10).json()
    assert [(it["item_id"], it["justification"], it["evidence"]) for it in record["items"]] == \
        [(j.item_id, j.justification, j.evidence) for j in justifications]


def test_the_streamed_answer_is_the_plain_answer_in_pieces(served):
    plain = httpx.post(served + "/v1/recommendations", json=QUERY, timeout=120)
    assert plain.status_code == 200 and plain.headers["content-type"] == "application/json"
    rec = Recommendation.model_validate(plain.json())
    _, lines = stream(served, QUERY)
    assert [it["item_id"] for it in lines[0]["items"]] == [it.item_id for it in rec.items]
    assert [line["justification"] for line in lines if line["event"] == "justification"] == \
        [it.justification for it in rec.items]


def test_a_request_refused_before_ranking_is_an_error_status_not_a_stream(served):
    r, lines = stream(served, {"query": "   "})
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert lines[0]["error"]["type"] == "bad_request" and "request is empty" in lines[0]["error"]["message"]
    r, lines = stream(served, {"query": "films", "user_id": "nobody"})
    assert r.status_code == 404 and lines[0]["error"]["type"] == "unknown_user"


def test_the_ranked_list_arrives_while_the_justifications_are_still_unwritten(text_workspace, llm_backend):
    app, rec = _gated_app(text_workspace, llm_backend)
    before = rec.audit_store.count()
    with BackgroundServer(app) as url:
        with httpx.stream("POST", url + "/v1/recommendations/stream", json=QUERY, timeout=120) as r:
            lines = r.iter_lines()
            first = json.loads(next(lines))
            assert first["event"] == "ranked" and len(first["items"]) == 3
            assert rec.audit_store.count() == before  # nothing justified yet (the gate is shut), nothing recorded
            rec.justifier.allow()
            rest = [json.loads(line) for line in lines if line.strip()]
    assert [line["event"] for line in rest] == ["justification"] * 3 + ["done"]
    assert rec.justifier.calls == 1  # the k justifications are written as one batch
    assert rec.audit_store.count() == before + 1


def test_a_client_that_goes_away_leaves_one_record_with_the_justifications_written_so_far(text_workspace,
                                                                                           llm_backend):
    app, rec = _gated_app(text_workspace, llm_backend, batch=1)
    before = rec.audit_store.count()
    with BackgroundServer(app) as url:
        with httpx.stream("POST", url + "/v1/recommendations/stream", json=QUERY, timeout=120) as r:
            # One iterator, kept: a discarded iter_lines() generator closes the response when it is collected, and
            # the client would go away before the first justification, not during it.
            lines = r.iter_lines()
            request_id = json.loads(next(lines))["request_id"]
            deadline = time.monotonic() + 120  # a loaded machine may take a while to start the first one
            while rec.justifier.calls == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            if rec.justifier.calls == 0:
                rec.justifier.allow(10)
                pytest.fail(f"the first justification never started; the rest of the stream: {list(lines)}")
            assert rec.justifier.calls == 1  # the first justification is being written (held at the gate)
        # The client is gone mid-answer; the justification it left behind is finished, the others never start.
        time.sleep(2)  # for the server to notice (it cancels the stream, which then waits for the step at the gate)
        rec.justifier.allow()
        deadline = time.monotonic() + 60
        while rec.audit_store.get(request_id) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        record = rec.audit_store.get(request_id)
        assert record is not None, "no audit record for the abandoned answer"
        assert rec.audit_store.count() == before + 1
        written = [it for it in record.items if it.justification]
        assert len(record.items) == 3 and [it.rank for it in written] == [1] and rec.justifier.calls == 1
        assert any("closed before" in n for n in record.notices)
        # the audit checks what was shown, not the empty places
        audit = httpx.post(url + "/v1/audits", json={"request_ids": [request_id], "judge": False,
                                                     "faithfulness": False}, timeout=60).json()
        assert audit["overall"]["justifications"] == len(written)


def test_openapi_documents_the_stream_as_json_lines_and_keeps_the_plain_answer_json(served):
    spec = httpx.get(served + "/openapi.json", timeout=10).json()
    streamed = spec["paths"]["/v1/recommendations/stream"]["post"]
    content = streamed["responses"]["200"]["content"]
    assert list(content) == ["application/x-ndjson"]
    lines = {ref["$ref"].rsplit("/", 1)[1] for ref in content["application/x-ndjson"]["schema"]["oneOf"]}
    assert lines == {"RankedList", "ItemJustification", "AnswerDone", "StreamError"}
    assert "ranked" in streamed["description"] and "done" in streamed["description"]
    plain = spec["paths"]["/v1/recommendations"]["post"]["responses"]["200"]["content"]
    assert plain == {"application/json": {"schema": {"$ref": "#/components/schemas/Recommendation"}}}
    assert set(spec["components"]["schemas"]["RecommendedItem"]["properties"]) == {
        "item_id", "title", "rank", "score", "justification", "evidence", "generated"}
