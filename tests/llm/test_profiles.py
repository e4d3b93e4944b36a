"""Hardware profiles name a model each; a config's own settings win over its profile."""

import pytest

from llmrec.config import LLMRecConfig
from llmrec.errors import ConfigError
from llmrec.llm.profiles import PROFILES
from llmrec.llm.registry import PACKAGED_MODELS


def test_each_profile_names_a_registered_model_with_its_reasons():
    assert set(PROFILES) == {"fast", "quality", "gpu"}
    for profile in PROFILES.values():
        assert profile.model in PACKAGED_MODELS and profile.target and profile.why


def test_a_profile_fills_model_dtype_and_backend():
    ranker = LLMRecConfig.from_mapping({"ranker": {"profile": "quality"}}).ranker
    assert (ranker.model, ranker.dtype, ranker.backend) == ("qwen2.5-coder-0.5b", "float32", "transformers")
    assert LLMRecConfig.from_mapping({"ranker": {"profile": "gpu"}}).ranker.backend == "vllm"


def test_settings_given_beside_a_profile_win():
    ranker = LLMRecConfig.from_mapping({"ranker": {"profile": "quality", "model": "smollm2-135m"}}).ranker
    assert ranker.model == "smollm2-135m" and ranker.profile == "quality"


def test_an_unknown_profile_is_a_config_error_naming_the_choices():
    with pytest.raises(ConfigError, match="ranker.profile.*'fast', 'quality' or 'gpu'"):
        LLMRecConfig.from_mapping({"ranker": {"profile": "huge"}})
