"""Card vectors belong to one embedding model and one store: change either and every card is embedded again.

Vectors from two models are not comparable even at the same dimension, so a query must never be scored against
cards embedded by another model; the workspace records which space its text collection was filled in.
"""

import shutil

import pytest

from llmrec.config import LLMRecConfig
from llmrec.errors import ConfigError, WorkspaceError
from llmrec.ingest import ingest
from llmrec.recommender import Recommender
from llmrec.retrieval.embedder import default_embedding_model
from llmrec.retrieval.retriever import TEXT_COLLECTION, TEXT_SPACE_META
from llmrec.retrieval.stores import open_store
from llmrec.testing.catalogs import TEXT_ITEMS, write_text_catalog
from llmrec.workspace import Workspace


def test_a_new_embedding_model_re_embeds_every_card_and_queries_wait_for_it(tmp_path):
    cat, _ = write_text_catalog(tmp_path / "data")
    first = ingest(cat, tmp_path / "ws")
    assert first.embedded == len(TEXT_ITEMS)

    other = tmp_path / "other-model"  # files that differ are another model as far as the workspace can tell
    shutil.copytree(default_embedding_model(), other)
    (other / "config.json").write_text((other / "config.json").read_text() + "\n")
    config = LLMRecConfig()
    config.embedding.model = other
    with pytest.raises(ConfigError, match="llmrec ingest"):
        Recommender(tmp_path / "ws", config).retriever

    report = ingest(cat, tmp_path / "ws", config=config)
    assert report.items_unchanged == len(TEXT_ITEMS) and report.embedded == len(TEXT_ITEMS)
    assert any("embedding every card again" in n for n in report.notices)
    assert open_store(config.store, tmp_path / "ws").collection(TEXT_COLLECTION).count() == len(TEXT_ITEMS)
    assert ingest(cat, tmp_path / "ws", config=config).embedded == 0  # recorded: the next ingest is a no-op
    found = Recommender(tmp_path / "ws", config).retriever.retrieve("a podcast about nature", [], set(), n=3)
    assert len(found) == 3


def test_a_copied_workspace_and_a_copied_model_keep_their_vectors(tmp_path):
    cat, _ = write_text_catalog(tmp_path / "data")
    ingest(cat, tmp_path / "ws")
    shutil.copytree(tmp_path / "ws", tmp_path / "moved")
    config = LLMRecConfig()
    config.embedding.model = tmp_path / "same-model"
    shutil.copytree(default_embedding_model(), config.embedding.model)  # the same files in another place
    assert len(Recommender(tmp_path / "moved", config).retriever.retrieve("a podcast", [], set(), n=3)) == 3
    assert ingest(cat, tmp_path / "moved", config=config).embedded == 0


def test_a_workspace_from_before_spaces_were_recorded_is_adopted_without_re_embedding(tmp_path):
    cat, _ = write_text_catalog(tmp_path / "data")
    ingest(cat, tmp_path / "ws")
    ws = Workspace(tmp_path / "ws")
    with ws.connect() as db:
        db.execute("DELETE FROM meta WHERE key=?", (TEXT_SPACE_META,))
    assert ingest(cat, ws).embedded == 0
    assert ws.get_meta(TEXT_SPACE_META) is not None


def test_reading_commands_never_turn_a_stray_folder_into_a_workspace(tmp_path):
    with pytest.raises(WorkspaceError, match="not an llmrec workspace"):
        Workspace(tmp_path)
    assert list(tmp_path.iterdir()) == []
