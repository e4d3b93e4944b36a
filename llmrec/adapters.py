"""Finding LoRA adapters by name (``adapters/NAME``) or path."""

from __future__ import annotations

import os
from pathlib import Path

from llmrec.errors import ModelNotFoundError

ADAPTERS_ENV = "LLMREC_ADAPTERS"


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


def read_manifest(adapter: Path) -> dict:
    """An adapter's manifest; warns on unknown keys, fails on missing required ones."""
    import json
    import warnings

    from llmrec.training.trainer import MANIFEST_OPTIONAL, MANIFEST_REQUIRED

    path = Path(adapter) / "manifest.json"
    if not path.is_file():
        raise ModelNotFoundError(f"{adapter} has no manifest.json: not an llmrec adapter (train one with llmrec train)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelNotFoundError(f"{path} is unreadable ({e}); retrain the adapter or restore the file") from None
    if not isinstance(manifest, dict):
        raise ModelNotFoundError(f"{path} is not a JSON object; retrain the adapter or restore the file")
    missing = [k for k in MANIFEST_REQUIRED if k not in manifest]
    if missing:
        raise ModelNotFoundError(f"{path} lacks required field(s): {', '.join(missing)}")
    unknown = set(manifest) - set(MANIFEST_REQUIRED) - MANIFEST_OPTIONAL
    if unknown:
        warnings.warn(f"{path}: unknown manifest field(s) {', '.join(sorted(unknown))}", stacklevel=2)
    return manifest


def check_adapter_base(adapter: Path, base_model_id: str) -> None:
    """Refuse to load an adapter on a base model other than the one it was trained on."""
    from llmrec.errors import ConfigError

    manifest_path = Path(adapter) / "manifest.json"
    if not manifest_path.is_file():
        return  # a plain peft adapter from elsewhere: peft itself checks shapes
    trained_on = read_manifest(adapter)["base_model"]
    if trained_on != base_model_id:
        raise ConfigError(f"adapter {Path(adapter).name} was trained on {trained_on!r} but the ranker model is "
                          f"{base_model_id!r}; set ranker.model = {trained_on!r} or train a new adapter")


def list_adapters(folder: Path | None = None) -> list[tuple[str, dict | None]]:
    folder = folder or adapters_dir()
    out = []
    for d in sorted(p for p in folder.glob("*") if (p / "adapter_config.json").is_file()):
        try:
            out.append((d.name, read_manifest(d)))
        except ModelNotFoundError:
            out.append((d.name, None))
    return out
