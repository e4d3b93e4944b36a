"""LLM backends; importing this package registers the built-in ones (heavy libraries load only when opened)."""

from llmrec.ranking.backends import transformers_backend, vllm_backend  # noqa: F401
from llmrec.ranking.backends.base import LLMBackend, open_backend, register_backend

__all__ = ["LLMBackend", "open_backend", "register_backend"]
