"""The HTTP service: the ``Recommender``'s verbs over FastAPI, plus the web page, health and Prometheus metrics.

Routes (the same pydantic models as the Python API; OpenAPI at ``/docs`` and ``/openapi.json``):

- ``POST /v1/recommendations``          ``AskRequest`` → ``Recommendation`` (appends one audit record)
- ``GET  /v1/recommendations/{id}``     the ``AuditRecord`` of a served recommendation
- ``POST /v1/audits``                   check the justifications of stored recommendations
- ``GET  /v1/items/{id}``               an item as the workspace holds it, with links to its media
- ``GET  /v1/items/{id}/media/{index}`` one media file registered on that item
- ``GET  /healthz``, ``GET /metrics``, ``GET /`` (the web page)

Model calls are CPU-bound and the backends are not re-entrant, so they run one at a time under a lock, in worker
threads: the event loop keeps answering health checks, item lookups and metrics during a long ranking. Each model call
has a deadline (504 past it, including time spent queued); the middleware checks the Host header, the bearer token
and the body size limit before any route sees the request. Without a token only loopback Host names are answered: the
service then trusts that only this machine reaches it, and a web page whose DNS name is rebound to 127.0.0.1 would
otherwise reach it too, same-origin. Every error body has one shape: ``{"error": {"type": ..., "message": ...}}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Callable, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from llmrec import __version__
from llmrec.audit.record import AuditRecord
from llmrec.config import LLMRecConfig
from llmrec.errors import (BackendUnavailable, ConfigError, LLMRecError, ModelNotFoundError, RequestError,
                           UnknownUserError, WorkspaceError)
from llmrec.schema import AskRequest, Recommendation
from llmrec.serving import DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT_S, host_name, is_loopback
from llmrec.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from llmrec.serving.metrics import ServiceMetrics
from llmrec.workspace import Workspace

WEB_DIR = Path(__file__).resolve().parent / "web"
MAX_MEDIA_BYTES = 64 * 1024 * 1024
DRAIN_MAX_BYTES = 16 * 1024 * 1024  # a rejected body up to this size is read and dropped before the 413 is sent
# Paths answered without a token: liveness, the page's static shell (it holds no data) and the API description.
OPEN_PATHS = frozenset({"/healthz", "/", "/static/app.js", "/static/style.css", "/favicon.ico", "/docs",
                        "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
# Media types the service will serve, by file suffix. Anything else (SVG can carry scripts) is never served.
SERVABLE_MEDIA = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".bmp": "image/bmp", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg",
    ".flac": "audio/flac", ".m4a": "audio/mp4", ".opus": "audio/opus",
}
# The page loads only its own script and style; data it shows is text, images are blob: URLs it fetched itself.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
                               "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
# The audit report is one self-contained page with inline CSS and SVG: it may style itself, never run script.
REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}

T = TypeVar("T")


# ---- response models ---------------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    type: str = Field(description="machine-readable kind: invalid_request, unauthorized, forbidden_host, "
                                  "not_found, payload_too_large, timeout, backend_unavailable, ...")
    message: str = Field(description="what was wrong and what to do about it")
    details: list[dict] | None = Field(None, description="per-field problems of an invalid request body")


class ErrorBody(BaseModel):
    error: ErrorDetail


class MediaView(BaseModel):
    index: int
    kind: Literal["image", "audio"]
    url: str = Field(description="GET this path (with the token when one is configured) for the file")
    content_type: str | None = Field(None, description="None when the file's type is not one the service serves")
    text: str | None = Field(None, description="what ingest read from the file (OCR text or transcript)")
    facts: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    caption: str | None = None


class ItemView(BaseModel):
    id: str
    title: str
    fields: dict[str, str] = Field(default_factory=dict, description="the catalog's text fields")
    card: str = Field(description="the item card: what retrieval, the ranker, justifications and the audit read")
    card_fields: dict[str, str] = Field(default_factory=dict, description="the card split into fields; evidence "
                                        "'card:<field>' names one of these")
    metadata: dict[str, Any] = Field(default_factory=dict)
    media: list[MediaView] = Field(default_factory=list)


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    model: str = Field(description="idle, loading, ready, or 'unavailable: <reason>'")
    items: int
    auth: Literal["none", "bearer"]
    queue: int = Field(description="model calls running or waiting")


class AuditRequest(BaseModel):
    """Which stored recommendations to audit, and how."""

    model_config = {"extra": "forbid"}

    request_ids: list[str] = Field(min_length=1, max_length=100,
                                   description="audit these served recommendations (at most 100 per call)")
    judge: bool | None = Field(None, description="let the LLM judge decide claims the rules and word overlap "
                               "cannot; default: the workspace's [audit] judge setting")
    faithfulness: bool | None = Field(None, description="re-rank without each cited history item: does the item "
                                      "fall? default: the workspace's [audit] faithfulness setting")


_ERRORS = {status: {"model": ErrorBody} for status in (400, 401, 403, 404, 413, 415, 422, 500, 503, 504)}


# ---- errors ------------------------------------------------------------------------------------------------------
class ServiceTimeout(LLMRecError):
    """A model call did not finish within the request time limit (HTTP 504)."""


def error_response(status: int, kind: str, message: str, details: list[dict] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": kind, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


_HTTP_KINDS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def _install_error_handlers(app: FastAPI, metrics: ServiceMetrics) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", "the request body is not valid JSON (it must be UTF-8 "
                                  "encoded JSON with Content-Type: application/json)")
        details = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "problem": e.get("msg", "")}
                   for e in errors]
        summary = "; ".join(f"{d['field'] or 'body'}: {d['problem']}" for d in details[:5])
        return error_response(422, "invalid_request", f"the request does not match the schema: {summary}", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such path: {request.url.path}"
        elif exc.status_code == 400 and message == "There was an error parsing the body":
            return error_response(400, "malformed_json", "the request body could not be parsed as JSON (nested too "
                                  "deeply, or not JSON at all)")
        elif exc.status_code == 405 and message == "Method Not Allowed":
            message = f"{request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, _HTTP_KINDS.get(exc.status_code, "http_error"), message,
                              headers=getattr(exc, "headers", None))

    # Domain errors -> (status, error type, counted as a backend error, extra headers). Starlette picks the handler
    # of the most specific class in the exception's MRO, so LLMRecError is the catch-all for the rest.
    table: dict[type[Exception], tuple[int, str | None, bool, dict[str, str] | None]] = {
        UnknownUserError: (404, "unknown_user", False, None),
        RequestError: (400, "bad_request", False, None),
        BackendUnavailable: (503, "backend_unavailable", True, {"Retry-After": "10"}),
        ModelNotFoundError: (503, "model_unavailable", True, None),
        WorkspaceError: (503, "workspace_unavailable", False, None),
        ConfigError: (503, "misconfigured", True, None),
        ServiceTimeout: (504, "timeout", False, None),
        LLMRecError: (500, None, False, None),  # None: the error class's own name
    }

    def domain_handler(status: int, kind: str | None, backend: bool, headers: dict[str, str] | None):
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            if backend:
                metrics.backend_error(type(exc).__name__)
            if isinstance(exc, ServiceTimeout):
                metrics.timeout()
            return error_response(status, kind or type(exc).__name__, str(exc), headers=headers)

        return handle

    for error_class, (status, kind, backend, headers) in table.items():
        app.add_exception_handler(error_class, domain_handler(status, kind, backend, headers))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server log (uvicorn prints it); the client learns only that it happened.
        return error_response(500, "internal", "internal error; the server log has the details")


# ---- the service -------------------------------------------------------------------------------------------------
class RecommendationService:
    """State behind one app: the recommender, the model lock, the stores, the metrics."""

    def __init__(self, workspace: Path, config: LLMRecConfig | None, recommender, request_timeout_s: float):
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

    # ---- items and media ------------------------------------------------------------------------------------------
    def item_view(self, item_id: str) -> ItemView:
        from llmrec.cards import card_fields

        stored = self.workspace.get_item(item_id)
        if stored is None:
            raise StarletteHTTPException(404, f"no item {item_id!r} in this workspace")
        media = []
        for index, (kind, path, described) in enumerate(self._media_files(stored)):
            media.append(MediaView(
                index=index, kind=kind, url=f"/v1/items/{_quote(item_id)}/media/{index}",
                content_type=SERVABLE_MEDIA.get(path.suffix.lower()), text=described.get("text"),
                facts=list(described.get("facts") or []), tags=list(described.get("tags") or []),
                caption=described.get("caption")))
        return ItemView(id=stored.id, title=stored.title, fields=dict(stored.item.fields), card=stored.card,
                        card_fields=card_fields(stored.card), metadata=dict(stored.item.metadata), media=media)

    @staticmethod
    def _media_files(stored) -> list[tuple[str, Path, dict]]:
        """(kind, absolute path, what ingest recorded) for each media file of an item, images first."""
        files = [("image", Path(p)) for p in stored.item.images] + [("audio", Path(p)) for p in stored.item.audio]
        described = list(stored.media or [])
        out = []
        for i, (kind, path) in enumerate(files):
            d = described[i] if i < len(described) and isinstance(described[i], dict) else {}
            out.append((kind, path, d if d.get("kind", kind) == kind else {}))
        return out

    def media_file(self, item_id: str, index: str) -> tuple[bytes, str]:
        """The bytes of media number ``index`` of an item, and their content type; 404 for anything else.

        Nothing from the URL is used as a path: the index selects from the item's own list; the file must still
        resolve inside the item's catalog folder or ``[media] roots`` and be a regular file (``open_confined``), and
        its bytes are served only when they are still the ones ingest described (same sha256), read once so they
        cannot change between the check and the answer.
        """
        stored = self.workspace.get_item(item_id)
        if stored is None:
            raise StarletteHTTPException(404, f"no item {item_id!r} in this workspace")
        files = self._media_files(stored)
        if not (index.isascii() and index.isdigit() and len(index) <= 4 and int(index) < len(files)):
            raise StarletteHTTPException(404, f"item {item_id!r} has no media number {index!r} "
                                              f"(it has {len(files)})")
        kind, path, described = files[int(index)]
        content_type = SERVABLE_MEDIA.get(path.suffix.lower())
        if content_type is None or not content_type.startswith(kind):
            raise StarletteHTTPException(404, f"media {index} of item {item_id!r} is not a type this service serves")
        expected = described.get("sha256")
        if not expected:
            raise StarletteHTTPException(404, f"media {index} of item {item_id!r} could not be read at ingest")
        from llmrec.errors import MediaError
        from llmrec.media import allowed_roots, open_confined

        # Checked again at serve time, against the catalog folder recorded at ingest and today's [media] roots: a
        # workspace ingested before paths were confined may hold any path.
        roots = allowed_roots(stored.item.media_root, self.recommender.config.media.roots)
        try:
            with open_confined(path, roots, MAX_MEDIA_BYTES, limit_name="what this service serves") as media:
                data = media.read_all()
        except MediaError as e:
            raise StarletteHTTPException(404, f"media {index} of item {item_id!r} is not served: {e}") from None
        if hashlib.sha256(data).hexdigest() != expected:
            raise StarletteHTTPException(404, f"media {index} of item {item_id!r} changed since it was ingested; "
                                              "re-ingest the catalog to serve it")
        return data, content_type


def _quote(item_id: str) -> str:
    from urllib.parse import quote

    return quote(item_id, safe="")


# ---- middleware --------------------------------------------------------------------------------------------------
class _Guard:
    """Outermost ASGI layer: metrics for every request, then the Host check, the token check, the body size limit."""

    def __init__(self, app, *, token: str | None, allowed_hosts: frozenset[str] | None, max_body_bytes: int,
                 metrics: ServiceMetrics, routes: Callable[[], list]):
        """``allowed_hosts``: Host names answered besides loopback ones (lower-case, no port); None answers any."""
        self.app = app
        self.token = token
        self.allowed_hosts = allowed_hosts
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.routes = routes

    def _route_template(self, scope) -> str:
        for route in self.routes():
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "path", "other")
        return "unmatched"

    def _host_allowed(self, scope) -> bool:
        if self.allowed_hosts is None:
            return True
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = host_name(value.decode("latin-1"))
                return is_loopback(host) or host in self.allowed_hosts
        return False  # HTTP/1.1 requires Host and browsers always send it: refusing its absence costs nothing

    def _authorised(self, scope) -> bool:
        if self.token is None or scope["path"] in OPEN_PATHS:
            return True
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, given = value.decode("latin-1").partition(" ")
                return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())
        return False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_and_note(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"x-content-type-options" for name, _ in headers):
                    headers.append((b"x-content-type-options", b"nosniff"))  # JSON is never sniffed into HTML
                message = {**message, "headers": headers}
            await send(message)

        self.metrics.in_flight(+1)
        try:
            if not self._host_allowed(scope):
                given = dict(scope.get("headers", ())).get(b"host", b"").decode("latin-1")[:100]
                await error_response(403, "forbidden_host", f"Host {given!r} is not a name this service answers: "
                                     "without --token it answers loopback names (http://127.0.0.1:PORT/, "
                                     "http://localhost:PORT/, http://[::1]:PORT/) and those given with "
                                     "--allowed-host; open it by one of those, or start it with --token"
                                     )(scope, receive, send_and_note)
                return
            if not self._authorised(scope):
                await error_response(401, "unauthorized", "this service needs a bearer token: send "
                                     "'Authorization: Bearer <token>'",
                                     headers={"WWW-Authenticate": "Bearer"})(scope, receive, send_and_note)
                return
            replay = await self._read_body(scope, receive)
            if replay is None:
                status[0] = 499  # the client went away before sending its body
                return
            if isinstance(replay, JSONResponse):
                await replay(scope, receive, send_and_note)
                return
            await self.app(scope, replay, send_and_note)
        finally:
            self.metrics.in_flight(-1)
            self.metrics.observe_request(scope.get("method", ""), self._route_template(scope), status[0],
                                         time.perf_counter() - start)

    async def _read_body(self, scope, receive):
        """Buffer the whole body (it is small by construction) or answer 413 as soon as it is too large."""
        too_large = error_response(413, "payload_too_large",
                                   f"the request body is larger than the {self.max_body_bytes:,}-byte limit")
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return error_response(400, "bad_request", "invalid Content-Length header")
                if declared > self.max_body_bytes:
                    if declared <= DRAIN_MAX_BYTES:
                        await _drain(receive)
                    return too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                if message.get("more_body", False):
                    await _drain(receive)
                return too_large
            chunks.append(body)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            # Decide here, with one clear message, what FastAPI would otherwise report as a schema mismatch.
            content_type = dict(scope.get("headers", ())).get(b"content-type", b"").decode("latin-1")
            media_type = content_type.split(";")[0].strip().lower()
            if media_type != "application/json" and not media_type.endswith("+json"):
                return error_response(415, "unsupported_media_type", f"send the body as JSON with 'Content-Type: "
                                      f"application/json' (got {content_type or 'no Content-Type'!r})")
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as e:
                return error_response(400, "malformed_body", f"the request body is not valid UTF-8 (byte "
                                      f"{e.start}); JSON bodies must be UTF-8 encoded")
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as a plain receive would

        return replay


async def _drain(receive, max_bytes: int = 0, seconds: float = 5.0) -> None:
    """Read and drop the rest of a rejected body (a bounded amount, for a bounded time) so the client, still
    sending, gets to read the 413 instead of a connection reset."""
    received = 0
    with anyio.move_on_after(seconds):
        while received <= (max_bytes or DRAIN_MAX_BYTES):
            message = await receive()
            if message["type"] != "http.request":
                return
            received += len(message.get("body", b""))
            if not message.get("more_body", False):
                return


# ---- the app -----------------------------------------------------------------------------------------------------
def create_app(workspace: str | Path, config: LLMRecConfig | None = None, token: str | None = None,
               recommender=None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S, warm: bool = False,
               allowed_hosts: Collection[str] | None = None) -> FastAPI:
    """Build the HTTP app for one workspace.

    Args:
        recommender: an existing ``Recommender`` to serve (tests share one loaded model this way); by default one is
            built from ``workspace`` and ``config``.
        token: when set, every route except the health check, the page shell and the API docs needs
            ``Authorization: Bearer <token>``.
        warm: load the models in the background at startup instead of on the first request.
        allowed_hosts: Host names (port optional) answered besides loopback ones, ``"*"`` for any. Default: any name
            with a token; without one, loopback names only (127.0.0.1, localhost, [::1]), so that a web page whose
            DNS name is rebound to this machine cannot use the API or read its audit records.
    """
    if max_body_bytes < 1:
        raise ConfigError("max_body_bytes must be at least 1")
    if request_timeout_s <= 0:
        raise ConfigError("request_timeout_s must be positive")
    token = token or None
    if allowed_hosts is None:
        hosts = None if token else frozenset()
    else:
        hosts = frozenset(host_name(h) for h in allowed_hosts)
        hosts = None if "*" in hosts else hosts
    service = RecommendationService(Path(workspace), config, recommender, request_timeout_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm:
            threading.Thread(target=service.warm_up, name="llmrec-warm-up", daemon=True).start()
        yield

    app = FastAPI(
        title="llmrec", version=__version__, lifespan=lifespan,
        description="Ask for recommendations in plain language, get ranked catalog items with grounded "
                    "justifications; every answer is recorded and can be audited. Errors have the body "
                    '`{"error": {"type": ..., "message": ...}}`.')
    app.state.service = service
    _install_error_handlers(app, service.metrics)

    @app.post("/v1/recommendations", response_model=Recommendation, responses=_ERRORS, tags=["recommendations"],
              summary="Recommend items for a request (same model as Recommender.ask)")
    async def recommend(body: AskRequest, response: Response) -> Recommendation:
        rec = await service.call_model(service.recommender.ask_request, body)
        service.model_state = "ready"
        service.metrics.recommendation_served(len(rec.items))
        response.headers["Location"] = f"/v1/recommendations/{rec.request_id}"
        return rec

    @app.get("/v1/recommendations/{request_id}", response_model=AuditRecord, responses=_ERRORS,
             tags=["recommendations"], summary="The audit record of a served recommendation")
    def get_recommendation(request_id: str) -> AuditRecord:
        record = service.audit_store.get(request_id) if len(request_id) <= 128 else None
        if record is None:
            raise StarletteHTTPException(404, f"no recommendation {request_id!r} in this workspace's audit store")
        return record

    from llmrec.audit.report import AuditReport

    def stored_records(request_ids: list[str]) -> list[AuditRecord]:
        records = [service.audit_store.get(i) if len(i) <= 128 else None for i in request_ids]
        unknown = [i for i, r in zip(request_ids, records) if r is None]
        if unknown:
            raise StarletteHTTPException(404, f"no recommendation {', '.join(map(repr, unknown[:5]))} in this "
                                              "workspace's audit store")
        return records

    async def run_audit(request_ids: list[str], judge: bool | None = None,
                        faithfulness: bool | None = None) -> AuditReport:
        from llmrec.audit.report import audit_records
        from llmrec.config import AuditConfig

        records = await anyio.to_thread.run_sync(stored_records, list(dict.fromkeys(request_ids)))
        # The workspace's [audit] settings (threshold, batch size, ...), with the request's switches on top.
        base = getattr(getattr(service.recommender, "config", None), "audit", None) or AuditConfig()
        overrides = {k: v for k, v in (("judge", judge), ("faithfulness", faithfulness)) if v is not None}
        config = base.model_copy(update=overrides)
        # The judge and the faithfulness re-ranking use the model: same lock, same deadline as a recommendation.
        return await service.call_model(audit_records, records, service.recommender, config)

    @app.post("/v1/audits", response_model=AuditReport, responses=_ERRORS, tags=["audit"],
              summary="Check the justifications of served recommendations, claim by claim")
    async def audit(body: AuditRequest) -> AuditReport:
        return await run_audit(body.request_ids, body.judge, body.faithfulness)

    @app.get("/v1/recommendations/{request_id}/audit", response_class=HTMLResponse, responses=_ERRORS,
             tags=["audit"], summary="The audit report of one recommendation, as a self-contained HTML page")
    async def audit_page(request_id: str) -> HTMLResponse:
        from llmrec.audit.report import render_html

        report = await run_audit([request_id])
        # Rendering draws two plots: off the event loop, so /healthz and /metrics stay responsive meanwhile.
        page = await run_in_threadpool(render_html, report)
        return HTMLResponse(page, headers=REPORT_HEADERS)

    @app.get("/v1/items/{item_id}", response_model=ItemView, responses=_ERRORS, tags=["items"],
             summary="An item as the workspace holds it")
    def get_item(item_id: str) -> ItemView:
        return service.item_view(item_id)

    @app.get("/v1/items/{item_id}/media/{index}", responses={**_ERRORS, 200: {"content": {"image/*": {},
             "audio/*": {}}}}, tags=["items"], summary="A media file registered on an item")
    def get_media(item_id: str, index: str) -> Response:
        data, content_type = service.media_file(item_id, index)
        return Response(data, media_type=content_type, headers={
            "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=300"})

    @app.get("/healthz", response_model=Health, tags=["service"], summary="Liveness; answers during long asks")
    async def healthz() -> Health:
        try:
            items = service.workspace.item_count()
        except Exception:  # liveness must not fail on a busy database
            items = -1
        return Health(version=__version__, model=service.model_state, items=items,
                      auth="bearer" if token else "none", queue=service.queue)

    @app.get("/metrics", response_class=PlainTextResponse, tags=["service"], summary="Prometheus metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(service.metrics.render(), media_type=METRICS_CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        if name not in _STATIC:  # a fixed set: the URL never names a file
            raise StarletteHTTPException(404, f"no static file {name!r}")
        return FileResponse(WEB_DIR / name, media_type=_STATIC[name], headers=PAGE_HEADERS)

    app.add_middleware(_Guard, token=token, allowed_hosts=hosts, max_body_bytes=max_body_bytes,
                       metrics=service.metrics, routes=lambda: app.router.routes)
    return app


class BackgroundServer:
    """Serve an app with uvicorn on 127.0.0.1 in a daemon thread (tests, notebooks): ``with BackgroundServer(app) as
    url: ...``. The port is chosen by the OS and bound before the thread starts, so there is no race for it."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, startup_timeout_s: float = 60.0):
        import uvicorn

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="llmrec-http", daemon=True)
        self._startup_timeout_s = startup_timeout_s

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP server on {self.url} did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()
