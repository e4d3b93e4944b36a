"""Shared fixtures: tiny real models loaded once per session, small catalogs written on the fly."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from llmrec.testing.catalogs import write_text_catalog


@pytest.fixture(scope="session")
def llm_backend():
    """The packaged SmolLM2-135M through the in-process transformers backend (dequantised once per machine), in
    float32 so that tests score the same on every machine (``auto`` would pick bfloat16 where it is faster)."""
    from llmrec.config import RankerConfig
    from llmrec.ranking.backends import open_backend

    return open_backend(RankerConfig(dtype="float32", attention_dtype="float32", mlp_dtype="float32",
                                     normaliser_dtype="float32"))


@pytest.fixture(scope="session")
def text_workspace(tmp_path_factory):
    """A workspace ingested from the hand-written text catalog (embedded Chroma on disk)."""
    from llmrec.ingest import ingest

    root = tmp_path_factory.mktemp("ws")
    cat, log = write_text_catalog(root / "data")
    ingest(cat, root / "workspace", interactions=log)
    return root / "workspace"


def _sharing(workspace, backend, justify: bool):
    from llmrec.recommender import Recommender

    rec = Recommender(workspace)
    rec.config.justification.enabled = justify
    rec.__dict__["backend"] = backend  # cached_property slot: share the loaded model across tests
    return rec


@pytest.fixture(scope="session")
def recommender(text_workspace, llm_backend):
    """A Recommender over the text workspace, justifications from card facts (generation is tested separately)."""
    return _sharing(text_workspace, llm_backend, justify=False)


@pytest.fixture(scope="session")
def justifying_recommender(text_workspace, llm_backend):
    """The same, with LLM-generated justifications."""
    return _sharing(text_workspace, llm_backend, justify=True)
