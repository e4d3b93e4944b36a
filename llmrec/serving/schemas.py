"""The models the HTTP API adds on top of ``llmrec.api``: error bodies, the item view, health, the audit request.

Recommendations themselves travel as ``AskRequest`` → ``Recommendation`` and ``AuditRecord``, the Python API's own
models, so the two APIs cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    type: str = Field(description="machine-readable kind: invalid_request, unauthorized, forbidden_host, "
                                  "not_found, payload_too_large, timeout, backend_unavailable, ...")
    message: str = Field(description="what was wrong and what to do about it")
    details: list[dict] | None = Field(None, description="per-field problems of an invalid request body")


class ErrorBody(BaseModel):
    error: ErrorDetail


class StreamError(BaseModel):
    """The last line of a streamed answer that failed after its ranked list was sent (the status was already 200)."""

    event: Literal["error"] = "error"
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
    ready: bool = Field(description="the models are loaded and warm: a request is answered without loading them "
                                    "(the status is 503 while they load or failed to)")
    model: str = Field(description="idle (loads on the first request), loading, ready, or 'unavailable: <reason>'")
    llm: str | None = Field(None, description="the ranking model (and adapter) once loaded")
    backend: str | None = Field(None, description="the ranking backend once loaded")
    dtype: str | None = Field(None, description="the ranking model's dtype once loaded (float32, bfloat16, "
                       "\"float32 (bfloat16 attention and MLP)\", ...)")
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
