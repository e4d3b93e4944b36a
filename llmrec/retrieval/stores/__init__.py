"""Vector-store backends; importing this package registers them."""

from llmrec.retrieval.stores import chroma_embedded, chroma_server  # noqa: F401
from llmrec.retrieval.stores.base import (AnnSettings, Neighbour, VectorCollection, VectorStore, open_store,
                                         register_store)

__all__ = ["AnnSettings", "Neighbour", "VectorCollection", "VectorStore", "open_store", "register_store"]
