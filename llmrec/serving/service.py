"""The state behind one HTTP app, and the one way its routes reach the model.

Model calls are CPU-bound and the backends are not re-entrant, so they run one at a time under a lock, in worker
threads: the event loop keeps answering health checks, item lookups and metrics during a long ranking. Each model call
has a deadline (``ServiceTimeout``, 504, past it, including time spent queued).

Routes call the verbs (``recommend``, ``audit``), never the recommender directly, so how model calls are scheduled
(one at a time today) can change here without touching a route. Routes get the service through ``ServiceDep``,
which reads ``request.app.state.service``: a router works on any app whose state holds one.
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
from llmrec.serving import DEFAULT_REQUEST_TIMEOUT_S
from llmrec.serving.errors import ServiceTimeout
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
    """State behind one app: the recommender, the model lock, the stores, the metrics."""

    def __init__(self, workspace: str | Path, config: LLMRecConfig | None = None, recommender=None,
                 request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S):
        """
        Args:
            recommender: the ``Recommender`` to serve (or a stand-in with its verbs); by default one is built from
                ``workspace`` and ``config``, its models loaded on first use.
        """
        self.workspace = Workspace(workspace)
        if recommender is None:
            from llmrec.recommender import Recommender

            recommender = Recommender(self.workspace, config)
        self.recommender = recommender
        self.request_timeout_s = request_timeout_s
        self.metrics = ServiceMetrics()
        self.model_state = "idle"
        self._model_lock = threading.Lock()
        # Threads waiting on the model lock must not take the slots that sync routes (items, records) run in.
        self._model_threads = anyio.CapacityLimiter(256)
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

    # ---- the model lock ----------------------------------------------------------------------------------------------
    async def call_model(self, fn: Callable[..., T], *args) -> T:
        """Run ``fn(*args)`` in a worker thread holding the model lock, within the request deadline.

        A call still queued at the deadline never starts; one already running finishes in its thread (a forward pass
        cannot be interrupted) and its result is dropped, though whatever it recorded stays recorded.
        """
        deadline = time.monotonic() + self.request_timeout_s
        # A call stays counted in the queue until it is really over: a timed-out call whose thread already runs
        # still holds the model, so the thread, not the waiting request, takes it off the count.
        started, left = False, False

        def leave() -> None:
            nonlocal left
            with self._queue_lock:
                if left:
                    return
                left = True
                self._queue -= 1
            self.metrics.model_queue(-1)

        def locked() -> T:
            nonlocal started
            started = True
            try:
                if not self._model_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    raise ServiceTimeout(self._timeout_message())
                try:
                    if time.monotonic() >= deadline:
                        raise ServiceTimeout(self._timeout_message())
                    return fn(*args)
                finally:
                    self._model_lock.release()
            finally:
                leave()

        with self._queue_lock:
            self._queue += 1
        self.metrics.model_queue(+1)
        try:
            return await asyncio.wait_for(
                anyio.to_thread.run_sync(locked, abandon_on_cancel=True, limiter=self._model_threads),
                timeout=self.request_timeout_s)
        except TimeoutError:
            raise ServiceTimeout(self._timeout_message()) from None
        finally:
            if not started:  # cancelled before its thread ran: it never will
                leave()

    def _timeout_message(self) -> str:
        return (f"the model did not answer within the {self.request_timeout_s:g} s request time limit "
                f"({self._queue} request(s) queued); try again later, or start the server with a longer --timeout")

    def warm_up(self) -> None:
        """Load the LLM, the retriever and the audit store before the first request needs them."""
        with self._model_lock:
            self.model_state = "loading"
            try:
                rec = self.recommender
                for name in ("ranker", "justifier", "retriever", "audit_store"):
                    getattr(rec, name, None)
                embedder = getattr(rec, "embedder", None)
                if embedder is not None and hasattr(embedder, "encode"):
                    embedder.encode(["warm up"])
                self.model_state = "ready"
            except Exception as e:  # noqa: BLE001 - any load failure (OSError, ImportError, OOM) must show in /healthz
                # Requests will retry the load (cached properties are not cached on failure) and answer 503.
                self.model_state = f"unavailable: {e}" if isinstance(e, LLMRecError) else \
                    f"unavailable: {type(e).__name__}: {e}"


async def get_service(request: Request) -> ServingService:
    """The service of the app answering ``request`` (a FastAPI dependency; async, so it needs no worker thread)."""
    return request.app.state.service


ServiceDep = Annotated[ServingService, Depends(get_service)]
