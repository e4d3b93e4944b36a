"""An adapter's manifest is one pydantic model: what the trainer writes is what `llmrec adapters` reads back."""

import json

import pytest

from llmrec.errors import ConfigError, ModelNotFoundError
from llmrec.llm.adapters import AdapterManifest, check_adapter_base, list_adapters, read_manifest

FIELDS = {"base_model": "smollm2-135m", "base_model_sha256": "ab", "data_hash": "cd", "config": {},
          "metrics": {"best_valid_ndcg@10": 0.5}, "versions": {"torch": "2"}, "created_at": "2026-12-06T00:00:00Z"}


def adapter(folder, manifest):
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    (folder / "manifest.json").write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
    return folder


def test_a_written_manifest_reads_back_equal_and_leaves_unset_optional_fields_out(tmp_path):
    written = AdapterManifest(**FIELDS)
    assert "training_data" not in json.loads(written.to_json())
    assert read_manifest(adapter(tmp_path / "a", written.to_json())) == written


def test_a_manifest_missing_a_required_field_names_it(tmp_path):
    folder = adapter(tmp_path / "a", {k: v for k, v in FIELDS.items() if k != "data_hash"})
    with pytest.raises(ModelNotFoundError, match="lacks required field.*data_hash"):
        read_manifest(folder)
    assert list_adapters(tmp_path) == [("a", None)]


def test_an_unknown_field_warns_but_loads(tmp_path):
    with pytest.warns(UserWarning, match="unknown manifest field.*from_the_future"):
        manifest = read_manifest(adapter(tmp_path / "a", {**FIELDS, "from_the_future": 1}))
    assert manifest.base_model == "smollm2-135m"


def test_an_adapter_refuses_a_base_model_it_was_not_trained_on(tmp_path):
    folder = adapter(tmp_path / "a", FIELDS)
    check_adapter_base(folder, "smollm2-135m")
    with pytest.raises(ConfigError, match="trained on 'smollm2-135m'"):
        check_adapter_base(folder, "qwen2.5-coder-0.5b")
