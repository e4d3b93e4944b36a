"""The state behind one HTTP app, and the one way its routes reach the model.

Up to ``workers`` requests are answered at once, each in a worker thread: retrieval, prompts and the audit record need
no model, and every model call they make goes through ``BatchingBackend`` (batching.py), which runs the calls of all
of them in one model thread and puts concurrent ranking passes into one forward pass. The event loop keeps answering
health checks, item lookups and metrics meanwhile. At most ``queue_limit`` requests run or wait; one more is refused
at once (``QueueFull``: 503 with Retry-After) rather than queued past its deadline. Each request has a deadline
(``ServiceTimeout``, 504, past it, including time spent queued).

The models load once, before the first answer: at start-up (``warm_up``, which also runs one ranking pass so the
first request pays nothing extra) or, without it, on the first request, which the others wait for. ``/healthz``
reports ``ready`` from ``model_state``.

Routes call the verbs (``recommend``, ``audit``), never the recommender directly, so how model calls are scheduled
can change here without touching a route. Routes get the service through ``ServiceDep``, which reads
``request.app.state.service``: a router works on any app whose state holds one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import anyio
from fastapi import Depends, Request

from llmrec.config import LLMRecConfig
from llmrec.errors import LLMRecError
from llmrec.serving import DEFAULT_QUEUE_LIMIT, DEFAULT_REQUEST_TIMEOUT_S, DEFAULT_WORKERS
from llmrec.serving.batching import DEFAULT_BATCH_WINDOW_S, DEFAULT_MAX_BATCH, BatchingBackend, batches_itself
from llmrec.serving.errors import QueueFull, ServiceTimeout
from llmrec.serving.metrics import ServiceMetrics
from llmrec.workspace import Workspace

if TYPE_CHECKING:
    from llmrec.answer import RankedAnswer
    from llmrec.api import ItemJustification
    from llmrec.audit.record import AuditRecord
    from llmrec.audit.report import AuditReport
    from llmrec.api import AskRequest, Recommendation

T = TypeVar("T")
MAX_REQUEST_ID_CHARS = 128  # longer ids are never looked up: no served request has one


class ServingService:
    """State behind one app: the recommender, its batched model, the request slots, the stores, the metrics."""

    def __init__(self, workspace: str | Path, config: LLMRecConfig | None = None, recommender=None,
                 request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S, workers: int = DEFAULT_WORKERS,
                 queue_limit: int = DEFAULT_QUEUE_LIMIT, batch_window_s: float = DEFAULT_BATCH_WINDOW_S,
                 max_batch: int = DEFAULT_MAX_BATCH):
        """
        Args:
            recommender: the ``Recommender`` to serve (or a stand-in with its verbs); by default one is built from
                ``workspace`` and ``config``, its models loaded by ``warm_up`` or on first use.
            workers: requests answered at once; 1 answers them one after the other.
            queue_limit: requests running or waiting before one more is refused (503); at least ``workers``.
            batch_window_s, max_batch: how long a ranking pass waits for others to join it, and how many prompts
                one pass takes (``BatchingBackend``).
        """
        if workers < 1 or queue_limit < workers:
            raise ValueError(f"need 1 <= workers <= queue_limit, got workers={workers}, queue_limit={queue_limit}")
        self.workspace = Workspace(workspace)
        if recommender is None:
            from llmrec.recommender import Recommender

            recommender = Recommender(self.workspace, config)
        if hasattr(recommender, "wrap_backend"):
            def batched(backend):
                if isinstance(backend, BatchingBackend) or batches_itself(backend):
                    return backend
                return BatchingBackend(backend, batch_window_s, max_batch)

            recommender.wrap_backend(batched)
        self.recommender = recommender
        self.request_timeout_s = request_timeout_s
        self.workers, self.queue_limit = workers, queue_limit
        self.metrics = ServiceMetrics()
        self.model_state = "idle"
        self._slots = threading.BoundedSemaphore(workers)
        self._load_lock = threading.Lock()  # one load at a time; requests arriving meanwhile wait for it
        # Threads waiting for a slot must not take the slots that sync routes (items, records) run in.
        self._model_threads = anyio.CapacityLimiter(queue_limit)
        self._queue = 0
        self._queue_lock = threading.Lock()  # the count changes on the event loop and in worker threads
        self._audit_store = None

    @property
    def audit_store(self):
        if self._audit_store is None:
            from llmrec.audit.store import AuditStore

            self._audit_store = AuditStore(self.workspace.root / "audit.sqlite")
        return self._audit_store

    @property
    def queue(self) -> int:
        return self._queue

    # ---- the verbs that use the model ------------------------------------------------------------------------------
    async def recommend(self, request: AskRequest) -> Recommendation:
        """Rank and justify items for one request (appends one audit record)."""
        rec = await self.call_model(self.recommender.ask_request, request)
        self.model_state = "ready"
        self.metrics.recommendation_served(len(rec.items))
        return rec

    async def rank(self, request: AskRequest) -> RankedAnswer:
        """Rank items for one request, justifications to come from ``justifications`` (nothing recorded yet)."""
        answer = await self.call_model(self.recommender.rank_request, request)
        self.model_state = "ready"
        return answer

    async def justifications(self, answer: RankedAnswer) -> AsyncIterator[ItemJustification]:
        """The justifications of a ranked answer as each is written; the answer's audit record is stored when the
        last one is, or with those written so far when the caller stops early (a client that went away).

        Each model call takes the model lock on its own, so another request's ranking can run between two batches
        of this one's justifications (``justification.batch``)."""
        stream = self.recommender.justify(answer)
        try:
            while (item := await self.call_model(next, stream, None)) is not None:
                yield item
        finally:
            # Cancelled or not, wait for a step still running in its thread, then record what was written.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(stream.close, limiter=self._model_threads)
        self.metrics.recommendation_served(len(answer.ranked.items))

    async def audit(self, records: list[AuditRecord], judge: bool | None = None,
                    faithfulness: bool | None = None) -> AuditReport:
        """Check the justifications of stored records; ``None`` switches keep the workspace's setting."""
        from llmrec.audit.report import audit_records
        from llmrec.config import AuditConfig

        # The workspace's [audit] settings (threshold, batch size, ...), with the request's switches on top.
        base = getattr(getattr(self.recommender, "config", None), "audit", None) or AuditConfig()
        overrides = {k: v for k, v in (("judge", judge), ("faithfulness", faithfulness)) if v is not None}
        config = base.model_copy(update=overrides)
        # The judge and the faithfulness re-ranking use the model: same lock, same deadline as a recommendation.
        return await self.call_model(audit_records, records, self.recommender, config)

    def record(self, request_id: str) -> AuditRecord | None:
        """The audit record of a served recommendation, None when there is none (blocking: call from a thread)."""
        return self.audit_store.get(request_id) if len(request_id) <= MAX_REQUEST_ID_CHARS else None

    # ---- request slots -----------------------------------------------------------------------------------------------
    async def call_model(self, fn: Callable[..., T], *args) -> T:
        """Run ``fn(*args)`` in a worker thread holding one of the ``workers`` slots, within the request deadline;
        ``QueueFull`` at once when ``queue_limit`` requests are already running or waiting.

        A call still queued at the deadline never starts; one already running finishes in its thread (a forward pass
        cannot be interrupted) and its result is dropped, though whatever it recorded stays recorded.
        """
        deadline = time.monotonic() + self.request_timeout_s
        # A call stays counted in the queue until it is really over: a timed-out call whose thread already runs
        # still holds its slot, so the thread, not the waiting request, takes it off the count.
        started, left = False, False

        def leave() -> None:
            nonlocal left
            with self._queue_lock:
                if left:
                    return
                left = True
                self._queue -= 1
            self.metrics.model_queue(-1)

        def in_slot() -> T:
            nonlocal started
            started = True
            try:
                if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    raise ServiceTimeout(self._timeout_message())
                try:
                    self._ensure_loaded(deadline)
                    if time.monotonic() >= deadline:
                        raise ServiceTimeout(self._timeout_message())
                    return fn(*args)
                finally:
                    self._slots.release()
            finally:
                leave()

        with self._queue_lock:
            if self._queue >= self.queue_limit:
                full = True
            else:
                full = False
                self._queue += 1
        if full:
            raise QueueFull(f"{self.queue_limit} requests are already running or waiting (the server's --queue "
                            "limit); retry after a few seconds")
        self.metrics.model_queue(+1)
        try:
            return await asyncio.wait_for(
                anyio.to_thread.run_sync(in_slot, abandon_on_cancel=True, limiter=self._model_threads),
                timeout=self.request_timeout_s)
        except TimeoutError:
            raise ServiceTimeout(self._timeout_message()) from None
        finally:
            if not started:  # cancelled before its thread ran: it never will
                leave()

    def _timeout_message(self) -> str:
        return (f"the model did not answer within the {self.request_timeout_s:g} s request time limit "
                f"({self._queue} request(s) queued); try again later, or start the server with a longer --timeout")

    # ---- loading ---------------------------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.model_state == "ready"

    def model_facts(self) -> dict[str, str | None]:
        """The loaded LLM's id, backend and dtype for ``/healthz``; all None before it loads (never loads it)."""
        backend = getattr(self.recommender, "__dict__", {}).get("backend")
        if backend is None:
            return {"llm": None, "backend": None, "dtype": None}
        if isinstance(backend, BatchingBackend):
            backend = backend.backend
        dtype = getattr(backend, "dtype", None)
        if dtype is None:
            model = getattr(backend, "model", None)
            dtype = getattr(model, "dtype", None)
        llm = getattr(backend, "model_id", None)
        adapter = getattr(backend, "adapter_id", None)
        return {"llm": f"{llm} + {adapter}" if adapter else llm, "backend": getattr(backend, "name", None),
                "dtype": str(dtype).removeprefix("torch.") if dtype is not None else None}

    def _ensure_loaded(self, deadline: float) -> None:
        """Load the models unless loaded; a request arriving during the load waits for it (until its deadline)."""
        if self.ready:
            return
        if not self._load_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise ServiceTimeout(self._timeout_message())
        try:
            if not self.ready:
                self._load(warm_pass=False)
        finally:
            self._load_lock.release()

    def _load(self, warm_pass: bool) -> None:
        """Build every component a request uses; with ``warm_pass``, run one embedding and one ranking pass too, so
        the first request finds kernels chosen and buffers allocated. Raises what loading raised."""
        previous = self.model_state
        self.model_state = "loading"
        try:
            rec = self.recommender
            for name in ("backend", "ranker", "justifier", "retriever", "audit_store"):
                getattr(rec, name, None)
            if warm_pass:
                embedder = getattr(rec, "embedder", None)
                if embedder is not None and hasattr(embedder, "encode"):
                    embedder.encode(["warm up"])
                backend = getattr(rec, "backend", None)
                if backend is not None and hasattr(backend, "option_logprobs"):
                    prompt = backend.chat([{"role": "user", "content": "Pick one: A or B?"}])
                    backend.option_logprobs([prompt], [" A", " B"])
            self.model_state = "ready"
        except BaseException:
            self.model_state = previous
            raise

    def start_warm_up(self) -> threading.Thread:
        """Load and warm the models in a background thread; ``/healthz`` says 503 "loading" until it is done."""
        self.model_state = "loading"  # before the thread starts: no moment where a probe sees "idle"
        thread = threading.Thread(target=self.warm_up, name="llmrec-warm-up", daemon=True)
        thread.start()
        return thread

    def warm_up(self) -> None:
        """Load the LLM, the retriever and the audit store and run one pass of each before the first request."""
        with self._load_lock:
            try:
                self._load(warm_pass=True)
            except Exception as e:  # noqa: BLE001 - any load failure (OSError, ImportError, OOM) must show in /healthz
                # Requests will retry the load (cached properties are not cached on failure) and answer 503.
                self.model_state = f"unavailable: {e}" if isinstance(e, LLMRecError) else \
                    f"unavailable: {type(e).__name__}: {e}"


async def get_service(request: Request) -> ServingService:
    """The service of the app answering ``request`` (a FastAPI dependency; async, so it needs no worker thread)."""
    return request.app.state.service


ServiceDep = Annotated[ServingService, Depends(get_service)]
