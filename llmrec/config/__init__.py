"""Typed configuration, one model per concern, composed into ``LLMRecConfig``.

Every model forbids unknown keys so a typo in a TOML file fails loudly instead of silently using a default.
``LLMRecConfig.model_dump(mode="json")`` is what runs and artifacts record as "the config that produced this"; its
``fingerprint()`` leaves out the settings marked ``RUNTIME_ONLY``.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

from pydantic import Field, ValidationError

from llmrec.errors import ConfigError
from llmrec.config.base import RUNTIME_ONLY, _Section
from llmrec.config.ingest import DEFAULT_CLIP_LABELS, CatalogConfig, EmbeddingConfig, MediaConfig, VectorStoreConfig
from llmrec.config.llm import AuditConfig, JustificationConfig, RankerConfig, TrainConfig
from llmrec.config.retrieval import CollaborativeConfig, RequestConfig, RetrievalConfig, SequentialConfig

__all__ = ["RUNTIME_ONLY", "DEFAULT_CLIP_LABELS", "AuditConfig", "CatalogConfig", "CollaborativeConfig",
           "EmbeddingConfig", "JustificationConfig", "LLMRecConfig", "MediaConfig", "RankerConfig", "RequestConfig",
           "RetrievalConfig", "SequentialConfig", "TrainConfig", "VectorStoreConfig", "_Section"]


class LLMRecConfig(_Section):
    """The whole configuration of one workspace or run."""

    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    store: VectorStoreConfig = Field(default_factory=VectorStoreConfig)
    request: RequestConfig = Field(default_factory=RequestConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    collaborative: CollaborativeConfig = Field(default_factory=CollaborativeConfig)
    ranker: RankerConfig = Field(default_factory=RankerConfig)
    justification: JustificationConfig = Field(default_factory=JustificationConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)

    @classmethod
    def from_toml(cls, path: str | Path) -> "LLMRecConfig":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except IsADirectoryError:
            raise ConfigError(f"config {path} is a folder; give the path of a .toml file") from None
        except OSError as e:
            raise ConfigError(f"config file {path}: cannot read: {e.strerror or e}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: dict, source: str = "config") -> "LLMRecConfig":
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            lines = [f"{source}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None

    def with_serving_options(self, backend: str | None = None, adapter: str | None = None,
                             justify: bool = True) -> "LLMRecConfig":
        """This config with the per-run options `ask` and `serve` share applied (None / True leave it as it is)."""
        if backend:
            self.ranker.backend = backend
        if adapter:
            self.ranker.adapter = adapter
        if not justify:
            self.justification.enabled = False
        return self

    @classmethod
    def runtime_only_fields(cls) -> list[str]:
        """Dotted names of the settings marked ``RUNTIME_ONLY`` (``ranker.threads``, ...)."""
        return [f"{section}.{name}" for section, info in cls.model_fields.items()
                for name, field in info.annotation.model_fields.items()
                if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("runtime_only")]

    def fingerprint(self) -> str:
        """Stable short hash of what the resolved config makes a result be, recorded with every recommendation;
        runtime-only settings (where and how fast) are left out."""
        data = self.model_dump(mode="json")
        for dotted in self.runtime_only_fields():
            section, name = dotted.split(".")
            del data[section][name]
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
