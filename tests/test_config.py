"""Configuration: typos fail loudly, files round-trip, the fingerprint tracks every setting."""

import pytest

from llmrec.config import LLMRecConfig
from llmrec.errors import ConfigError


def test_a_typo_in_a_toml_key_is_an_error_naming_the_key(tmp_path):
    (tmp_path / "c.toml").write_text("[ranker]\nmodle = 'x'\n")
    with pytest.raises(ConfigError, match="ranker.modle"):
        LLMRecConfig.from_toml(tmp_path / "c.toml")


def test_values_are_validated_on_load(tmp_path):
    (tmp_path / "c.toml").write_text("[retrieval]\nn_candidates = 500\n")
    with pytest.raises(ConfigError, match="retrieval.n_candidates"):
        LLMRecConfig.from_toml(tmp_path / "c.toml")


def test_dumped_config_loads_back_identically_and_fingerprint_changes_with_settings():
    cfg = LLMRecConfig()
    again = LLMRecConfig.from_mapping(cfg.model_dump(mode="json"))
    assert again == cfg and again.fingerprint() == cfg.fingerprint()
    cfg.ranker.seed = 7
    assert cfg.fingerprint() != again.fingerprint()


def test_a_store_url_selects_the_chroma_server_backend():
    cfg = LLMRecConfig.from_mapping({"store": {"url": "http://127.0.0.1:8123"}})
    assert cfg.store.resolved_backend == "chroma-server"
    with pytest.raises(ConfigError, match="store.url"):
        LLMRecConfig.from_mapping({"store": {"url": "127.0.0.1:8123"}})
