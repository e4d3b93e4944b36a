"""Configuration: typos fail loudly, files round-trip, the fingerprint tracks every setting that shapes a result."""

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


# Every setting marked runtime-only, changed: where the vectors and the vLLM server are, timeouts, threads, batches.
RUNTIME_CHANGES = {
    "embedding": {"batch_size": 7},
    "store": {"backend": "chroma-server", "path": "/elsewhere/chroma", "url": "http://127.0.0.1:8123"},
    "ranker": {"threads": 1, "vllm_url": "http://127.0.0.1:9100", "vllm_timeout_s": 5.0,
               "fallback_backend": "transformers", "fused_cpu_ops": False},
    "justification": {"batch": 2},
    "audit": {"judge_batch_size": 3},
}


def test_runtime_only_settings_leave_the_fingerprint_alone():
    moved = LLMRecConfig.from_mapping(RUNTIME_CHANGES)
    assert moved.fingerprint() == LLMRecConfig().fingerprint()
    assert moved.model_dump(mode="json")["ranker"]["vllm_url"] == "http://127.0.0.1:9100"  # still recorded
    changed = {f"{section}.{name}" for section, values in RUNTIME_CHANGES.items() for name in values}
    assert set(LLMRecConfig.runtime_only_fields()) == changed  # a newly marked setting must be added above


def test_the_model_changes_the_fingerprint_whatever_the_runtime_settings():
    moved = LLMRecConfig.from_mapping(RUNTIME_CHANGES)
    other_model = LLMRecConfig.from_mapping({**RUNTIME_CHANGES, "ranker": {**RUNTIME_CHANGES["ranker"],
                                                                           "model": "/models/another-llm"}})
    assert other_model.fingerprint() != moved.fingerprint()
    for section, name, value in (("embedding", "model", "/models/another-embedder"), ("ranker", "adapter", "v2"),
                                 ("retrieval", "n_candidates", 10), ("store", "collection", "other_items")):
        changed = LLMRecConfig()
        setattr(getattr(changed, section), name, value)
        assert changed.fingerprint() != LLMRecConfig().fingerprint(), f"{section}.{name}"


def test_a_store_url_selects_the_chroma_server_backend():
    cfg = LLMRecConfig.from_mapping({"store": {"url": "http://127.0.0.1:8123"}})
    assert cfg.store.resolved_backend == "chroma-server"
    with pytest.raises(ConfigError, match="store.url"):
        LLMRecConfig.from_mapping({"store": {"url": "127.0.0.1:8123"}})
