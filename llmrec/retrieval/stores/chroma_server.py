"""A Chroma server reached over HTTP (``store.url``), for indexes shared between processes or machines."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from llmrec.config import VectorStoreConfig
from llmrec.errors import BackendUnavailable, ConfigError
from llmrec.retrieval.stores.base import register_store
from llmrec.retrieval.stores.chroma_common import ChromaStore


@register_store("chroma-server")
def open_server(config: VectorStoreConfig, workspace_root: Path) -> ChromaStore:
    import chromadb
    from chromadb.config import Settings

    if not config.url:
        raise ConfigError("store.backend = 'chroma-server' needs store.url, e.g. http://127.0.0.1:8000")
    url = urlparse(config.url)
    try:
        client = chromadb.HttpClient(host=url.hostname or "127.0.0.1", port=url.port or 8000,
                                     ssl=url.scheme == "https", settings=Settings(anonymized_telemetry=False))
        client.heartbeat()
    except Exception as e:
        raise BackendUnavailable(f"Chroma server at {config.url} is not reachable ({type(e).__name__}); start it with"
                                 f" `chroma run --host 127.0.0.1 --port {url.port or 8000} --path DIR`") from e
    return ChromaStore(client, name=f"chroma-server:{config.url}", prefix=config.collection)
