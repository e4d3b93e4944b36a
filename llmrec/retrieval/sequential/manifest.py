"""A sequential model on disk: ``model.safetensors`` (weights, never pickle) and ``manifest.json`` (format, config,
vocabulary, data hash, counts, metrics, per-epoch history, versions, time).

Loading warns on unknown manifest keys (a newer llmrec may add some) and fails with ``TrainingError`` on a missing
required key, an invalid config or weights that do not fit the config.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from llmrec.config import SequentialConfig
from llmrec.errors import ModelNotFoundError, TrainingError

if TYPE_CHECKING:
    from llmrec.retrieval.sequential.model import SequentialRecommender

MANIFEST_FORMAT = "llmrec.sequential/1"
WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "manifest.json"
_REQUIRED_KEYS = ("format", "config", "item_ids")
_KNOWN_KEYS = {*_REQUIRED_KEYS, "data_hash", "metrics", "versions", "created", "history", "counts"}
VERSIONED_PACKAGES = ("torch", "numpy", "safetensors")


def save_model(model: "SequentialRecommender", directory: str | Path) -> Path:
    from safetensors.torch import save_file

    from llmrec.evaluation.provenance import versions

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.network.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE), metadata={"format": MANIFEST_FORMAT})
    manifest = {
        "format": MANIFEST_FORMAT,
        "config": model.config.model_dump(),
        "item_ids": model.item_ids,
        "data_hash": model.data_hash,
        "counts": model.counts,
        "metrics": model.metrics,
        "history": model.history,
        "versions": versions(VERSIONED_PACKAGES),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return directory


def load_model(cls: type["SequentialRecommender"], directory: str | Path) -> "SequentialRecommender":
    from safetensors.torch import load_file

    directory = Path(directory)
    manifest_path, weights_path = directory / MANIFEST_FILE, directory / WEIGHTS_FILE
    manifest = read_manifest(directory)
    try:
        config = SequentialConfig.from_manifest(manifest["config"])
    except (ValidationError, TypeError) as e:
        raise TrainingError(f"{manifest_path}: invalid config: {e}") from None
    model = cls.initialised(manifest["item_ids"], config)
    try:
        model.network.load_state_dict(load_file(str(weights_path)), strict=True)
    except (RuntimeError, OSError) as e:
        raise TrainingError(f"{weights_path}: weights do not match the manifest's config and vocabulary: "
                            f"{str(e).splitlines()[0]}") from None
    model.network.eval()
    model.data_hash = manifest.get("data_hash")
    model.counts = dict(manifest.get("counts") or {})
    model.metrics = dict(manifest.get("metrics") or {})
    model.history = list(manifest.get("history") or [])
    return model


def read_manifest(directory: Path) -> dict:
    """The checked manifest of a saved model folder (both files present, required keys there, known format)."""
    manifest_path, weights_path = directory / MANIFEST_FILE, directory / WEIGHTS_FILE
    for path in (manifest_path, weights_path):
        if not path.is_file():
            raise ModelNotFoundError(f"{path} does not exist; is {directory} a folder written by "
                                     "SequentialRecommender.save?")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TrainingError(f"{manifest_path}: not valid JSON: {e}") from None
    if not isinstance(manifest, dict):
        raise TrainingError(f"{manifest_path}: must be a JSON object")
    missing = [k for k in _REQUIRED_KEYS if k not in manifest]
    if missing:
        raise TrainingError(f"{manifest_path}: missing required key(s) {', '.join(missing)}; "
                            "the folder is incomplete or was not written by SequentialRecommender.save")
    unknown = sorted(set(manifest) - _KNOWN_KEYS)
    if unknown:
        warnings.warn(f"{manifest_path}: ignoring unknown key(s) {', '.join(unknown)}", stacklevel=4)
    if manifest["format"] != MANIFEST_FORMAT:
        raise TrainingError(f"{manifest_path}: format {manifest['format']!r} is not {MANIFEST_FORMAT!r}")
    return manifest
