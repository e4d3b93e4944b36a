"""Concurrent requests share the model: their ranking passes run as one batched forward pass with the same scores as
alone, a full queue is refused at once with 503 and Retry-After, and /healthz says when the models are ready."""

from __future__ import annotations

import asyncio
import threading
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from llmrec.api import Recommendation, RecommendedItem
from llmrec.serving.app import create_app
from llmrec.serving.batching import BatchingBackend

LOCAL = "http://localhost"


def _in_threads(fn, args_list):
    """``fn(*args)`` for each args, all started together; results in order."""
    results: list = [None] * len(args_list)
    errors: list = []
    start = threading.Barrier(len(args_list))

    def run(i, args):
        start.wait()
        try:
            results[i] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]
    return results


def test_concurrent_ranking_passes_run_as_one_batch_with_the_scores_of_separate_passes(llm_backend):
    chat = llm_backend.chat
    prompts = [chat([{"role": "user", "content": text}]) for text in (
        "Which is a film about space? A: Starlight Drift B: Bread at Dawn C: Sunday Brass. Answer with a letter.",
        "Pick the podcast about money: A: Coin Talk B: Lava Lines. Answer with a letter.",
        "Which one is jazz? A: Sunday Brass B: Night Shift C: Quiet Pines D: Loud Fast. Letter:",
        "Choose a comedy. A: Laugh Track B: The Long Dark. Letter:")]
    options = [[" A", " B", " C"], [" A", " B"], [" A", " B", " C", " D"], [" A", " B"]]
    alone = [llm_backend.option_logprobs([p], o)[0] for p, o in zip(prompts, options)]

    batched = BatchingBackend(llm_backend, window_s=1.0, max_batch=16)
    together = _in_threads(lambda p, o: batched.option_logprobs([p], o)[0], list(zip(prompts, options)))

    assert batched.passes == 1 and batched.largest_batch == 4
    for a, b in zip(alone, together):
        assert len(a) == len(b)
        assert b == pytest.approx(a, abs=1e-3)
        assert max(range(len(a)), key=a.__getitem__) == max(range(len(b)), key=b.__getitem__)


class RecordingBackend:
    """Answers at once and notes every call it gets: which calls the batcher merged is what is under test."""

    name, model_id, adapter_id = "recording", "recording-model", None

    def __init__(self):
        self.calls: list[tuple] = []

    def chat(self, messages):
        return messages[-1]["content"]

    def option_logprobs(self, prompts, options):
        self.calls.append(("option_logprobs", len(prompts), tuple(options)))
        return [[float(len(p) + i) for i in range(len(options))] for p in prompts]

    def complete(self, prompts, max_new_tokens, stop, seed=None):
        self.calls.append(("complete", len(prompts), seed))
        return [f"{p}/{seed}" for p in prompts]

    def tokens(self, text):
        self.calls.append(("tokens", 1, None))
        return len(text)


def test_greedy_completions_share_a_pass_and_seeded_ones_run_alone():
    inner = RecordingBackend()
    batched = BatchingBackend(inner, window_s=0.5)
    args = [(["a", "b"], 8, '"', None), (["c"], 8, '"', None), (["d"], 8, '"', 7)]
    out = _in_threads(lambda *a: batched.complete(*a), args)
    assert out == [["a/None", "b/None"], ["c/None"], ["d/7"]]
    assert sorted(inner.calls, key=str) == sorted([("complete", 3, None), ("complete", 1, 7)], key=str)


def test_calls_with_different_options_share_a_pass_and_get_their_own_columns():
    inner = RecordingBackend()
    batched = BatchingBackend(inner, window_s=0.5)
    out = _in_threads(lambda p, o: batched.option_logprobs(p, o), [(["xx"], [" A", " B"]), (["yyy"], [" B", " C"])])
    assert inner.calls == [("option_logprobs", 2, (" A", " B", " C"))] or \
        inner.calls == [("option_logprobs", 2, (" B", " C", " A"))]
    columns = {o: i for i, o in enumerate(inner.calls[0][2])}
    assert out[0] == [[2.0 + columns[" A"], 2.0 + columns[" B"]]]
    assert out[1] == [[3.0 + columns[" B"], 3.0 + columns[" C"]]]


def test_other_backend_methods_run_in_the_model_thread_and_a_failure_reaches_only_its_caller():
    inner = RecordingBackend()
    batched = BatchingBackend(inner, window_s=0.0)
    assert batched.tokens("abcd") == 4 and batched.model_id == "recording-model"
    with pytest.raises(TypeError):
        batched.option_logprobs(["x"], None)  # the merge cannot iterate None: this caller hears of it
    assert batched.option_logprobs(["x"], [" A"]) == [[1.0]]  # and the model thread goes on


def test_a_batch_takes_at_most_max_batch_prompts():
    inner = RecordingBackend()
    batched = BatchingBackend(inner, window_s=0.5, max_batch=3)
    _in_threads(lambda p: batched.option_logprobs(p, [" A"]), [(["a", "b"],), (["c", "d"],), (["e"],)])
    assert sorted(n for _, n, _ in inner.calls) == [2, 3]  # 2 + 1 together, the other 2 after: never 4 at once


# ---- through the service ---------------------------------------------------------------------------------------
def test_concurrent_requests_are_answered_with_the_rankings_of_requests_made_one_by_one(text_workspace, recommender):
    queries = ["a gentle science fiction film about space", "a podcast about money", "relaxing piano music",
               "a tense thriller", "bread and recipes", "jazz on a sunday"]
    alone = [recommender.ask(q, k=3) for q in queries]
    before = recommender.audit_store.count()
    app = create_app(text_workspace, recommender=recommender)
    batcher = recommender.backend
    assert isinstance(batcher, BatchingBackend)
    batcher.window_s = 0.5  # a loaded machine may start the six threads far apart: give them time to meet

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=LOCAL, timeout=300) as c:
            return await asyncio.gather(*(c.post("/v1/recommendations", json={"query": q, "k": 3}) for q in queries))

    passes = batcher.passes
    answers = asyncio.run(scenario())
    assert [a.status_code for a in answers] == [200] * len(queries), [a.text for a in answers]
    assert batcher.largest_batch > 1 and batcher.passes - passes < len(queries)
    for solo, r in zip(alone, answers):
        got = Recommendation.model_validate(r.json())
        assert [it.item_id for it in got.items] == [it.item_id for it in solo.items]
        assert [it.score for it in got.items] == pytest.approx([it.score for it in solo.items], abs=1e-3)
    assert recommender.audit_store.count() == before + len(queries)  # one audit record per answer


class HeldRecommender:
    """A stand-in whose asks wait until the test lets them go, and whose models take until ``loaded`` is set."""

    def __init__(self):
        self.release = threading.Event()
        self.loaded = threading.Event()
        self.calls = 0

    @property
    def ranker(self):
        self.loaded.wait(30)
        return "ranker"

    def ask_request(self, request) -> Recommendation:
        self.calls += 1
        self.release.wait(30)
        return Recommendation(request_id=uuid.uuid4().hex, query=request.query, model="stand-in", backend="stand-in",
                              items=[RecommendedItem(item_id="m1", title="Starlight Drift", rank=1, score=0.0,
                                                     justification="-")])


def test_a_full_queue_is_refused_at_once_with_503_and_retry_after(text_workspace):
    held = HeldRecommender()
    held.loaded.set()
    app = create_app(text_workspace, recommender=held, workers=1, queue_limit=2)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=LOCAL, timeout=60) as c:
            first = [asyncio.create_task(c.post("/v1/recommendations", json={"query": f"q{i}"})) for i in range(2)]
            while (await c.get("/healthz")).json()["queue"] < 2:
                await asyncio.sleep(0.01)
            refused = await c.post("/v1/recommendations", json={"query": "one too many"})
            held.release.set()
            return refused, await asyncio.gather(*first)

    refused, answered = asyncio.run(scenario())
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert refused.json()["error"]["type"] == "queue_full"
    assert [a.status_code for a in answered] == [200, 200] and held.calls == 2


def test_healthz_is_503_not_ready_while_the_models_load_and_200_ready_after(text_workspace):
    held = HeldRecommender()
    held.release.set()
    with TestClient(create_app(text_workspace, recommender=held, warm=True), base_url=LOCAL) as c:
        loading = c.get("/healthz")
        held.loaded.set()
        for _ in range(200):
            ready = c.get("/healthz")
            if ready.status_code == 200:
                break
            threading.Event().wait(0.05)
    assert loading.status_code == 503 and loading.json()["ready"] is False and loading.json()["model"] == "loading"
    assert ready.status_code == 200 and ready.json()["ready"] is True and ready.json()["model"] == "ready"


def test_healthz_names_the_loaded_model_and_its_dtype(text_workspace, recommender):
    with TestClient(create_app(text_workspace, recommender=recommender, warm=True), base_url=LOCAL) as c:
        for _ in range(600):
            health = c.get("/healthz")
            if health.status_code == 200:
                break
            threading.Event().wait(0.1)
    body = health.json()
    assert body["ready"] is True and body["llm"] == "smollm2-135m"
    assert body["dtype"] in ("float32", "bfloat16", "float32 (bfloat16 attention and MLP)")
    assert body["backend"] == "transformers"


def test_objects_the_backend_holds_are_handed_out_as_they_are(llm_backend):
    batched = BatchingBackend(llm_backend)
    assert batched.tokenizer is llm_backend.tokenizer and batched.model is llm_backend.model
    assert batched.tokenizer.encode(" A", add_special_tokens=False) == llm_backend.option_token_ids([" A"])


@pytest.mark.parametrize("server_batches", [True, False])
def test_a_backend_that_batches_itself_gets_concurrent_calls_and_an_in_process_one_the_batcher(text_workspace,
                                                                                             server_batches):
    from llmrec.recommender import Recommender
    from llmrec.serving.service import ServingService

    inner = RecordingBackend()
    inner.batches_itself = server_batches  # the vLLM client says True while its server is up
    rec = Recommender(text_workspace)
    rec.__dict__["backend"] = inner
    ServingService(text_workspace, recommender=rec)
    assert (rec.backend is inner) == server_batches
    assert isinstance(rec.backend, BatchingBackend) != server_batches
    assert rec.ranker.backend is rec.backend  # components are built on what the service will call


class PrefixBackend(RecordingBackend):
    """A backend that reuses a static prompt prefix (as the transformers backend does): calls note the prefix."""

    def option_logprobs(self, prompts, options, prefix=None):
        self.calls.append(("option_logprobs", len(prompts), prefix))
        return [[0.0] * len(options) for _ in prompts]


def test_calls_share_a_pass_only_with_calls_naming_the_same_prefix():
    inner = PrefixBackend()
    batched = BatchingBackend(inner, window_s=0.5)
    args = [(["sys: a"], [" A"], "sys: "), (["sys: b"], [" A"], "sys: "), (["other c"], [" A"], None)]
    out = _in_threads(lambda p, o, prefix: batched.option_logprobs(p, o, prefix=prefix), args)
    assert out == [[[0.0]]] * 3
    assert sorted(inner.calls, key=str) == sorted([("option_logprobs", 2, "sys: "), ("option_logprobs", 1, None)],
                                                  key=str)
