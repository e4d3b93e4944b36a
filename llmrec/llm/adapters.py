"""LoRA adapters: finding them by name (``adapters/NAME``) or path, and the manifest each one carries.

``AdapterManifest`` is the one definition of that manifest: the trainer writes it, ``llmrec adapters`` and the
backends read it. Loading warns on unknown fields (a newer llmrec may add some) and fails on missing required ones.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from llmrec.errors import ConfigError, ModelNotFoundError

ADAPTERS_ENV = "LLMREC_ADAPTERS"
MANIFEST_FILE = "manifest.json"


class AdapterManifest(BaseModel):
    """What produced an adapter: base model (id, weight digest, folder), data, config, metrics, versions, time."""

    model_config = ConfigDict(extra="allow")

    base_model: str                   # the base model's id (``llmrec.llm.registry.model_id``): adapters refuse others
    base_model_sha256: str            # of the base weights' first 16 MiB
    data_hash: str                    # of the exact training examples
    config: dict[str, Any]            # the full LLMRecConfig the run used
    metrics: dict[str, Any]           # best validation NDCG@10 and step, the validation curve, example counts
    versions: dict[str, Any]
    created_at: str                   # UTC, ISO 8601
    base_model_path: str | None = None
    training_data: dict[str, Any] | None = None  # where the examples came from (dataset, retriever, split)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2)


def adapters_dir() -> Path:
    """Where adapters are found by name: ``$LLMREC_ADAPTERS``, else ``./adapters`` in the current folder.

    The same rule for a checkout (run from its root, that is its ``adapters/``) and an installed wheel, which has no
    project folder beside the package: a path next to the installed package would be site-packages.
    """
    return Path(os.environ.get(ADAPTERS_ENV) or "adapters").expanduser().resolve()


def resolve_adapter(name_or_path: str | None) -> Path | None:
    if not name_or_path:
        return None
    for candidate in (Path(name_or_path).expanduser(), adapters_dir() / name_or_path):
        if (candidate / "adapter_config.json").is_file():
            return candidate.resolve()
    raise ModelNotFoundError(f"LoRA adapter {name_or_path!r} not found (looked for adapter_config.json in "
                             f"{name_or_path} and {adapters_dir() / name_or_path})")


def read_manifest(adapter: Path) -> AdapterManifest:
    """An adapter's manifest; warns on unknown keys, fails on missing required ones."""
    path = Path(adapter) / MANIFEST_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"{adapter} has no manifest.json: not an llmrec adapter (train one with llmrec train)")
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelNotFoundError(f"{path} is unreadable ({e}); retrain the adapter or restore the file") from None
    if not isinstance(raw, dict):
        raise ModelNotFoundError(f"{path} is not a JSON object; retrain the adapter or restore the file")
    try:
        manifest = AdapterManifest.model_validate(raw)
    except ValidationError as e:
        missing = [".".join(map(str, err["loc"])) for err in e.errors() if err["type"] == "missing"]
        what = f"lacks required field(s): {', '.join(missing)}" if missing else f"has invalid fields ({e})"
        raise ModelNotFoundError(f"{path} {what}") from None
    if manifest.model_extra:
        warnings.warn(f"{path}: unknown manifest field(s) {', '.join(sorted(manifest.model_extra))}", stacklevel=2)
    return manifest


def check_adapter_base(adapter: Path, base_model_id: str) -> None:
    """Refuse to load an adapter on a base model other than the one it was trained on."""
    if not (Path(adapter) / MANIFEST_FILE).is_file():
        return  # a plain peft adapter from elsewhere: peft itself checks shapes
    trained_on = read_manifest(adapter).base_model
    if trained_on != base_model_id:
        raise ConfigError(f"adapter {Path(adapter).name} was trained on {trained_on!r} but the ranker model is "
                          f"{base_model_id!r}; set ranker.model = {trained_on!r} or train a new adapter")


def list_adapters(folder: Path | None = None) -> list[tuple[str, AdapterManifest | None]]:
    folder = folder or adapters_dir()
    out = []
    for d in sorted(p for p in folder.glob("*") if (p / "adapter_config.json").is_file()):
        try:
            out.append((d.name, read_manifest(d)))
        except ModelNotFoundError:
            out.append((d.name, None))
    return out
