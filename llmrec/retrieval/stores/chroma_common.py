"""Chroma collections behind the ``VectorCollection`` contract (shared by the embedded and server backends).

We always pass our own embeddings: Chroma's default embedding function would try to download a model.
"""

from __future__ import annotations

import numpy as np

from llmrec.errors import BackendUnavailable
from llmrec.retrieval.stores.base import AnnSettings, Neighbour

_BATCH = 2000  # Chroma rejects very large single upserts


class ChromaCollection:
    def __init__(self, collection):
        self._c = collection

    def upsert(self, ids, vectors, documents=None, metadatas=None):
        for start in range(0, len(ids), _BATCH):
            end = start + _BATCH
            self._c.upsert(ids=list(ids[start:end]), embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                           documents=documents[start:end] if documents else None,
                           metadatas=metadatas[start:end] if metadatas else None)

    def query(self, vector, n, exclude=None, where=None):
        exclude = exclude or set()
        total = self.count()
        if total == 0 or n <= 0:
            return []
        want = min(total, n + len(exclude))
        res = self._c.query(query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=want,
                            include=["distances"], where=where or None)
        out = []
        for item_id, distance in zip(res["ids"][0], res["distances"][0]):
            if item_id not in exclude:
                out.append(Neighbour(item_id, 1.0 - float(distance)))
        return out[:n]

    def update_metadata(self, ids, metadatas):
        for start in range(0, len(ids), _BATCH):
            self._c.update(ids=list(ids[start:start + _BATCH]), metadatas=metadatas[start:start + _BATCH])

    def get_vectors(self, ids):
        if not ids:
            return {}
        res = self._c.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(res["ids"], res["embeddings"])}

    def count(self):
        return self._c.count()

    def delete(self, ids):
        if ids:
            self._c.delete(ids=list(ids))


class ChromaStore:
    """A Chroma client (embedded or HTTP) handing out cosine collections."""

    def __init__(self, client, name: str, prefix: str):
        self._client = client
        self.name = name
        self.prefix = prefix

    def collection(self, name: str, space: str = "cosine", ann: AnnSettings | None = None) -> ChromaCollection:
        full = f"{self.prefix}_{name}" if name else self.prefix
        metadata = {"hnsw:space": space}
        if ann is not None:
            for key, value in (("hnsw:search_ef", ann.search_ef), ("hnsw:construction_ef", ann.construction_ef),
                               ("hnsw:M", ann.max_neighbors)):
                if value is not None:
                    metadata[key] = value
        try:
            c = self._client.get_or_create_collection(full, metadata=metadata, embedding_function=None)
        except Exception as e:  # chromadb raises several unrelated types for connection problems
            raise BackendUnavailable(f"vector store {self.name}: cannot open collection {full!r}: {e}") from e
        return ChromaCollection(c)

    def drop(self, name: str) -> None:
        full = f"{self.prefix}_{name}" if name else self.prefix
        try:
            self._client.delete_collection(full)
        except Exception:
            pass
