"""Packaged GGUF weights → a plain transformers folder in the model cache, made once.

The first use of a packaged model dequantises its GGUF file into ``<cache>/models/<name>`` (safetensors) under a file
lock, writing to a temporary folder and renaming it into place, so concurrent first runs neither race nor leave a
half-written model behind. The folder records the digest of the GGUF it was made from; a package upgrade that ships
new bytes under the same file name rebuilds it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

MARKER = "llmrec-model.json"


def dequantise(source_dir: Path, gguf_file: str, dest: Path) -> None:
    """Load a GGUF checkpoint with transformers, drop its quantiser, and save a plain safetensors folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source_dir), gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(str(source_dir), gguf_file=gguf_file)
    # The loaded weights are already dense fp32; the quantiser object only tells save_pretrained otherwise.
    if hasattr(model, "hf_quantizer"):
        model.hf_quantizer = None
    for obj in (model.config,):
        if hasattr(obj, "quantization_config"):
            delattr(obj, "quantization_config")
    model.is_quantized = False if hasattr(model, "is_quantized") else None
    model.save_pretrained(str(dest), safe_serialization=True)
    tokenizer.save_pretrained(str(dest))


def made_from(folder: Path) -> str | None:
    """The GGUF digest a dequantised folder records; None when unfinished or unreadable.

    Checked on every resolve: an upgraded package may ship new weights under the same file name, and the cache must
    then be rebuilt rather than keep serving the old ones.
    """
    try:
        return json.loads((folder / MARKER).read_text()).get("gguf_sha256_first_mib")
    except (OSError, ValueError, AttributeError):
        return None


def build_once(dest: Path, digest: str, build: Callable[[Path], None], record: dict) -> Path:
    """Make ``dest`` with ``build(tmp_folder)`` unless it already records ``digest``; safe under concurrent callers.

    ``record`` goes into the folder's marker beside the digest. The marker is written last inside the temporary
    folder and the folder renamed into place, so a folder with a matching marker is always complete.
    """
    if made_from(dest) == digest:
        return dest
    from filelock import FileLock

    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock", timeout=1800):
        if made_from(dest) == digest:  # another process finished while we waited
            return dest
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
        try:
            build(tmp)
            (tmp / MARKER).write_text(json.dumps({**record, "gguf_sha256_first_mib": digest}, indent=2))
            if dest.exists():  # unfinished (a killed run: no marker), or made from a GGUF since replaced
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return dest
