"""The vector-store contract every backend implements, and the registry config picks backends from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from llmrec.config import VectorStoreConfig
from llmrec.errors import ConfigError


@dataclass(frozen=True)
class Neighbour:
    id: str
    similarity: float  # cosine similarity, higher is closer


@dataclass(frozen=True)
class AnnSettings:
    """Approximate-nearest-neighbour (HNSW) settings, fixed when a collection is created; None keeps the backend's.

    Higher values trade build time and memory for recall; a backend without such knobs ignores them.
    """

    search_ef: int | None = None        # candidates explored per query (at least n)
    construction_ef: int | None = None  # candidates explored per insertion
    max_neighbors: int | None = None    # graph degree (HNSW's M)


class VectorCollection(Protocol):
    """One named set of vectors (item text vectors, collaborative item vectors...)."""

    def upsert(self, ids: list[str], vectors: np.ndarray, documents: list[str] | None = None,
               metadatas: list[dict] | None = None) -> None: ...

    def query(self, vector: np.ndarray, n: int, exclude: set[str] | None = None,
              where: dict | None = None) -> list[Neighbour]:
        """The ``n`` nearest vectors whose metadata satisfies ``where`` (Chroma's filter language: ``$and``,
        ``$or``, ``$contains``, ``$lt``...), applied inside the search, not to its top ``n``."""
        ...

    def update_metadata(self, ids: list[str], metadatas: list[dict]) -> None:
        """Merge these keys into the stored metadata of existing vectors; a key mapped to None is removed."""
        ...

    def get_vectors(self, ids: list[str]) -> dict[str, np.ndarray]: ...

    def count(self) -> int: ...

    def delete(self, ids: list[str]) -> None: ...


class VectorStore(Protocol):
    name: str

    def collection(self, name: str, space: str = "cosine", ann: AnnSettings | None = None) -> VectorCollection:
        """Open or create a collection; ``ann`` applies only when this call creates it."""
        ...

    def drop(self, name: str) -> None: ...


_STORES: dict[str, Callable[[VectorStoreConfig, Path], VectorStore]] = {}


def register_store(name: str):
    def decorate(factory):
        _STORES[name] = factory
        return factory
    return decorate


def open_store(config: VectorStoreConfig, workspace_root: Path) -> VectorStore:
    """Build the configured store (``chroma-server`` when a URL is set, else embedded Chroma on disk)."""
    from llmrec.retrieval import stores  # noqa: F401  (registers the built-in backends)

    name = config.resolved_backend
    if name not in _STORES:
        raise ConfigError(f"unknown vector store {name!r}; known: {', '.join(sorted(_STORES))}")
    return _STORES[name](config, workspace_root)
