"""llmrec's cache root, and the file digests that say which weights a cached copy or a manifest was made from."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_dir() -> Path:
    """llmrec's cache root: ``$LLMREC_CACHE``, else ``$XDG_CACHE_HOME/llmrec``, else ``~/.cache/llmrec``."""
    if os.environ.get("LLMREC_CACHE"):
        return Path(os.environ["LLMREC_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "llmrec"


def models_dir() -> Path:
    """Where converted model weights live (dequantised LLMs, safetensors copies of classifier weights)."""
    return cache_dir() / "models"


def file_digest(path: Path, limit: int | None = None) -> str:
    """sha256 of a file (first ``limit`` bytes when given), for manifests that say which weights were used."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = limit
        while True:
            chunk = f.read(1 << 20 if remaining is None else min(1 << 20, remaining))
            if not chunk:
                break
            h.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    break
    return h.hexdigest()
