"""The service's outermost ASGI layer: who is answered at all, before any route, model or body parser sees a request.

In order: every request is timed and counted (by route template, never raw path); the ``Host`` header must name
this machine or an allowed name; the bearer token must match (except on ``OPEN_PATHS``); the body must be JSON, UTF-8
and within the size limit. Without a token only loopback Host names are answered: the service then trusts that only
this machine reaches it, and a web page whose DNS name is rebound to 127.0.0.1 would otherwise reach it too,
same-origin. It wraps any ASGI app, so it can be tested in front of a trivial one.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Collection, Sequence

import anyio
from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute, Match

from llmrec.serving import host_name, is_loopback
from llmrec.serving.errors import error_response
from llmrec.serving.metrics import ServiceMetrics

DRAIN_MAX_BYTES = 16 * 1024 * 1024  # a rejected body up to this size is read and dropped before the 413 is sent
# Paths answered without a token: liveness, the page's static shell (it holds no data) and the API description.
OPEN_PATHS = frozenset({"/healthz", "/", "/static/app.js", "/static/style.css", "/favicon.ico", "/docs",
                        "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def answered_hosts(allowed_hosts: Collection[str] | None, token: str | None) -> frozenset[str] | None:
    """The Host names a guard answers besides loopback ones (lower-case, no port); None for any name.

    Default: any name with a token, none without. ``"*"`` among ``allowed_hosts`` answers any name.
    """
    if allowed_hosts is None:
        return None if token else frozenset()
    hosts = frozenset(host_name(h) for h in allowed_hosts)
    return None if "*" in hosts else hosts


class RequestGuard:
    """Metrics for every request, then the Host check, the token check and the body limit, around ``app``."""

    def __init__(self, app, *, token: str | None, allowed_hosts: frozenset[str] | None, max_body_bytes: int,
                 metrics: ServiceMetrics | None = None, routes: Callable[[], Sequence[BaseRoute]] = tuple):
        """
        Args:
            allowed_hosts: Host names answered besides loopback ones (lower-case, no port); None answers any.
            metrics: where requests are counted and timed (a fresh ``ServiceMetrics`` by default).
            routes: the routes to label metrics by (their path templates), read per request; requests none of
                them matches are labelled ``unmatched``.
        """
        self.app = app
        self.token = token
        self.allowed_hosts = allowed_hosts
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics if metrics is not None else ServiceMetrics()
        self.routes = routes

    def _route_template(self, scope) -> str:
        for route in self.routes():
            if not hasattr(route, "path"):
                continue  # an included router (recent FastAPI keeps them whole): no one template to report
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route.path
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
