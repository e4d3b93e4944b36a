"""llmrec: an LLM-centric, multimodal, generative recommender.

``import llmrec`` is cheap: the heavy pieces (torch, transformers, Chroma, media models) load when first used.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Recommender": ("llmrec.recommender", "Recommender"),
    "LLMRecConfig": ("llmrec.config", "LLMRecConfig"),
    "AskRequest": ("llmrec.api", "AskRequest"),
    "Recommendation": ("llmrec.api", "Recommendation"),
    "ingest": ("llmrec.ingest", "ingest"),
    "Workspace": ("llmrec.workspace", "Workspace"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'llmrec' has no attribute {name!r}")


__all__ = list(_LAZY)
