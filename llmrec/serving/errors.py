"""How the HTTP service reports failure: one body shape for every error, and the map from exceptions to statuses.

Every error body is ``{"error": {"type": ..., "message": ...}}`` (``ErrorBody``), whether FastAPI rejected the
request, a route raised, the guard refused it, or a domain error (``llmrec.errors``) came up from the recommender.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmrec.errors import (BackendUnavailable, ConfigError, LLMRecError, ModelNotFoundError, RequestError,
                           UnknownUserError, WorkspaceError)
from llmrec.serving.metrics import ServiceMetrics
from llmrec.serving.schemas import ErrorBody, ErrorDetail

# The error statuses every API route documents in OpenAPI, all with the one body shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 413, 415, 422, 500, 503, 504)}


class ServiceTimeout(LLMRecError):
    """A model call did not finish within the request time limit (HTTP 504)."""


class QueueFull(LLMRecError):
    """As many requests as the queue holds are already running or waiting (HTTP 503 with Retry-After)."""


# Domain errors -> (status, error type, counted as a backend error, extra headers). Starlette picks the handler of the
# most specific class in the exception's MRO, so LLMRecError is the catch-all for the rest. A new refusal of the
# service (a full queue: 503 with Retry-After) is one more row.
DOMAIN_ERRORS: dict[type[Exception], tuple[int, str | None, bool, dict[str, str] | None]] = {
    UnknownUserError: (404, "unknown_user", False, None),
    RequestError: (400, "bad_request", False, None),
    BackendUnavailable: (503, "backend_unavailable", True, {"Retry-After": "10"}),
    ModelNotFoundError: (503, "model_unavailable", True, None),
    WorkspaceError: (503, "workspace_unavailable", False, None),
    ConfigError: (503, "misconfigured", True, None),
    ServiceTimeout: (504, "timeout", False, None),
    QueueFull: (503, "queue_full", False, {"Retry-After": "5"}),
    LLMRecError: (500, None, False, None),  # None: the error class's own name
}

_HTTP_KINDS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def error_response(status: int, kind: str, message: str, details: list[dict] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": kind, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def error_detail(exc: Exception) -> ErrorDetail:
    """The error body of an exception raised after a response has started (a stream's last line): the type its
    status would have had, and its message; the unexpected say only that they happened, as ``_unexpected`` does."""
    for cls in type(exc).__mro__:
        if cls in DOMAIN_ERRORS:
            return ErrorDetail(type=DOMAIN_ERRORS[cls][1] or type(exc).__name__, message=str(exc))
    return ErrorDetail(type="internal", message="internal error; the server log has the details")


def install_error_handlers(app: FastAPI, metrics: ServiceMetrics) -> None:
    """Answer every exception a route can raise with the one error shape; count backend failures in ``metrics``."""

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

    def domain_handler(status: int, kind: str | None, backend: bool, headers: dict[str, str] | None):
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            if backend:
                metrics.backend_error(type(exc).__name__)
            if isinstance(exc, ServiceTimeout):
                metrics.timeout()
            return error_response(status, kind or type(exc).__name__, str(exc), headers=headers)

        return handle

    for error_class, (status, kind, backend, headers) in DOMAIN_ERRORS.items():
        app.add_exception_handler(error_class, domain_handler(status, kind, backend, headers))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server log (uvicorn prints it); the client learns only that it happened.
        return error_response(500, "internal", "internal error; the server log has the details")
