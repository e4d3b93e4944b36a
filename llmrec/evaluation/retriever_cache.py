"""Fit each of the protocol's sequential retrievers (SASRec, LRU) once per (data, config, seed) and keep it on disk.

The ranker evaluation needs the same retriever three times (training candidates, validation, test); fitting it takes
10–25 minutes here, so the fitted model is cached under ``$LLMREC_CACHE/eval/`` as safetensors plus manifest and
reloaded only when the data fingerprint, the config (seed included) and the fitting code all match.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from llmrec.config import SequentialConfig
from llmrec.evaluation.protocols import SequenceDataset
from llmrec.llm.cache import cache_dir
from llmrec.retrieval.sequential import SequentialRecommender


def _code_digest() -> str:
    """The fitting code's own hash: a model fitted by older code is fitted again, not silently reused beside rows
    that newer code produced."""
    from llmrec.retrieval import sequential

    digest = hashlib.sha256()
    for path in sorted(Path(sequential.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def cache_path(data: SequenceDataset, config: SequentialConfig, root: Path | None = None) -> Path:
    key = hashlib.sha256(json.dumps([data.fingerprint(), config.model_dump(), _code_digest()],
                                    sort_keys=True).encode())
    return (root or cache_dir() / "eval") / f"{config.architecture}-{data.tie_break}-{key.hexdigest()[:16]}"


def fitted_sasrec(data: SequenceDataset, config: SequentialConfig, root: Path | None = None,
                  log=print) -> tuple[SequentialRecommender, bool]:
    """The sequential model fitted on ``data.train`` with validation early stopping; (model, loaded_from_cache)."""
    path = cache_path(data, config, root)
    if (path / "manifest.json").is_file():
        log(f"retriever: loading the fitted SASRec from {path}")
        return SequentialRecommender.load(path), True
    model = SequentialRecommender().fit(data.training_data(), config, progress=True)
    keep(model, data, config, root)
    return model, False


def keep(model: SequentialRecommender, data: SequenceDataset, config: SequentialConfig,
         root: Path | None = None) -> None:
    """Store a model fitted on ``data`` with ``config`` where ``fitted_sasrec`` finds it (whole folder or nothing)."""
    path = cache_path(data, config, root)
    if path.exists():
        return
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    model.save(tmp)
    if not path.exists():  # a concurrent run may have finished first; both fits are identical (seeded)
        tmp.replace(path)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
