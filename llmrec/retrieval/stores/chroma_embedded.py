"""Embedded Chroma on disk (the default): no server, the index lives in the workspace."""

from __future__ import annotations

from pathlib import Path

from llmrec.config import VectorStoreConfig
from llmrec.retrieval.stores.base import register_store
from llmrec.retrieval.stores.chroma_common import ChromaStore


@register_store("chroma-embedded")
def open_embedded(config: VectorStoreConfig, workspace_root: Path) -> ChromaStore:
    import chromadb
    from chromadb.config import Settings

    path = Path(config.path) if config.path else workspace_root / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    return ChromaStore(client, name=f"chroma-embedded:{path}", prefix=config.collection)
