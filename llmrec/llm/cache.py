"""llmrec's cache root, the file digests that say which weights a cached copy or a manifest was made from, and the
one way a converted copy gets into the cache.

Converted weights (a dequantised LLM, a safetensors copy of a classifier's state dict) are built once: under a file
lock, into a temporary folder renamed into place, with a marker naming the digest of what they were made from. So
concurrent first runs neither race nor leave a half-written model behind, and a package upgrade that ships new bytes
under the same file name rebuilds the copy instead of serving the old one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

MARKER = "llmrec-model.json"


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


def made_from(folder: Path, digest_key: str) -> str | None:
    """The source digest a converted folder records; None when unfinished or unreadable (then it is rebuilt)."""
    try:
        return json.loads((folder / MARKER).read_text()).get(digest_key)
    except (OSError, ValueError, AttributeError):
        return None


def build_once(dest: Path, digest: str, build: Callable[[Path], dict | None], record: dict,
               digest_key: str = "source_sha256") -> Path:
    """Make ``dest`` with ``build(tmp_folder)`` unless it already records ``digest``; safe under concurrent callers.

    ``record`` and whatever ``build`` returns go into the folder's marker beside the digest. The marker is written
    last inside the temporary folder and the folder renamed into place, so a folder with a matching marker is always
    complete.
    """
    if made_from(dest, digest_key) == digest:
        return dest
    from filelock import FileLock

    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock", timeout=3600):
        if made_from(dest, digest_key) == digest:  # another process finished while we waited
            return dest
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
        try:
            built = build(tmp) or {}
            (tmp / MARKER).write_text(json.dumps({**record, **built, digest_key: digest}, indent=2))
            if dest.exists():  # unfinished (a killed run: no marker), or made from a source since replaced
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return dest
