"""Finding LoRA adapters by name (``adapters/NAME``) or path."""

from __future__ import annotations

from pathlib import Path

from llmrec.errors import ModelNotFoundError


def adapters_dir() -> Path:
    """The project's ``adapters/`` folder (beside the package in a checkout), else ``./adapters``."""
    here = Path(__file__).resolve().parent.parent / "adapters"
    return here if here.is_dir() else Path("adapters").resolve()


def resolve_adapter(name_or_path: str | None) -> Path | None:
    if not name_or_path:
        return None
    for candidate in (Path(name_or_path).expanduser(), adapters_dir() / name_or_path):
        if (candidate / "adapter_config.json").is_file():
            return candidate.resolve()
    raise ModelNotFoundError(f"LoRA adapter {name_or_path!r} not found (looked for adapter_config.json in "
                             f"{name_or_path} and {adapters_dir() / name_or_path})")
