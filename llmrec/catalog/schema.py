"""The catalog's data model: what a row of a catalog or an interaction log means once validated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CatalogItem(BaseModel):
    """One item as read from a catalog file (before media are turned into text).

    ``fields`` holds every free-text column other than id/title/image/audio/metadata, in file order, as strings.
    Media paths are absolute (joined to the catalog file's folder, not yet resolved); ``media_root`` is that folder,
    recorded so the paths can be confined to it when they are opened, at ingest and again when the HTTP service
    serves them (``llmrec.media.files``).
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1)
    fields: dict[str, str] = Field(default_factory=dict)
    images: list[Path] = Field(default_factory=list)
    audio: list[Path] = Field(default_factory=list)
    media_root: Path | None = Field(None, description="the folder media paths must resolve inside (besides [media] "
                                    "roots): the catalog file's folder, or the MovieLens --posters folder")
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Typed values an importer knows for certain (MovieLens: year from the title, genres, credits and runtime from
    # details.json); facets read them before parsing the text field of the same name (llmrec.request.facets).
    attributes: dict[str, str | int | float | list[str]] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list, description="non-fatal problems found while reading the row")
    source: str = Field("", description="file:line the row came from, for messages")


class Interaction(BaseModel):
    """One user-item event. ``row`` keeps the original file order (used to break timestamp ties honestly)."""

    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1)
    item_id: str = Field(min_length=1)
    timestamp: float
    rating: float | None = None
    row: int = 0
