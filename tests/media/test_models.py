"""Optional image models: open_clip zero-shot tags and a transformers captioner, loaded from local folders only.

The models are tiny and random (see conftest), so the tests pin down loading and the shape of the output, not
its quality. Tests that build a model are marked slow: importing torch alone takes about 7 s on two cores.
Refusing a bad folder happens before torch is imported, so those tests stay fast.
"""

from __future__ import annotations

import json
import shutil

import pytest

from llmrec.config import MediaConfig
from llmrec.errors import ModelNotFoundError
from llmrec.media import MediaDescriber

LABELS = ["a movie poster", "a landscape", "a cat", "a spaceship", "food"]


def models_only(**overrides) -> MediaDescriber:
    return MediaDescriber(MediaConfig(ocr=False, visual_facts=False, image_classes=False, **overrides))


# ------------------------------------------------------------------------------------------------------- open_clip


@pytest.mark.slow
def test_clip_tags_are_top_k_labels_from_the_list(tiny_clip_dir, draw_image):
    describer = models_only(clip_model=tiny_clip_dir, clip_labels=LABELS, clip_top_k=3)
    result = describer.describe_image(draw_image(background=(200, 30, 30)))
    assert result.error is None
    assert len(result.tags) == 3
    assert len(set(result.tags)) == 3
    assert set(result.tags) <= set(LABELS)
    assert not any(n.startswith("open_clip") for n in result.notices)


@pytest.mark.slow
def test_clip_tags_are_deterministic_and_model_loads_once(tiny_clip_dir, draw_image):
    describer = models_only(clip_model=tiny_clip_dir, clip_labels=LABELS, clip_top_k=2)
    path = draw_image()
    first = describer.describe_image(path).tags
    loaded = describer._get_clip()._loaded
    assert describer.describe_image(path).tags == first
    assert describer._get_clip()._loaded is loaded


@pytest.mark.slow
def test_top_k_larger_than_label_list_returns_every_label(tiny_clip_dir, draw_image):
    describer = models_only(clip_model=tiny_clip_dir, clip_labels=["a cat", "a dog"], clip_top_k=5)
    assert sorted(describer.describe_image(draw_image()).tags) == ["a cat", "a dog"]


def test_missing_clip_folder_raises_model_not_found_on_first_use(tmp_path, draw_image):
    describer = models_only(clip_model=tmp_path / "nowhere")  # building the describer is still fine
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        describer.describe_image(draw_image())


def test_clip_folder_with_only_pickle_weights_is_refused(tmp_path, draw_image):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": {"embed_dim": 16}}))
    (folder / "open_clip_pytorch_model.bin").write_bytes(b"a pickle: never loaded")
    with pytest.raises(ModelNotFoundError, match="open_clip_model.safetensors"):
        models_only(clip_model=folder).describe_image(draw_image())


@pytest.mark.slow
def test_clip_weights_that_do_not_match_the_config_raise_model_not_found(tmp_path, tiny_clip_dir, draw_image):
    folder = tmp_path / "mismatch"
    shutil.copytree(tiny_clip_dir, folder)
    config = json.loads((folder / "open_clip_config.json").read_text())
    config["model_cfg"]["embed_dim"] = 24
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelNotFoundError, match="loadable open_clip model"):
        models_only(clip_model=folder).describe_image(draw_image())


# ------------------------------------------------------------------------------------------------------- captioner


@pytest.mark.slow
def test_caption_is_non_empty_text(tiny_captioner_dir, draw_image):
    describer = models_only(captioner_model=tiny_captioner_dir, caption_max_new_tokens=8)
    result = describer.describe_image(draw_image(background=(20, 30, 120)))
    assert result.error is None
    assert isinstance(result.caption, str) and result.caption.strip()
    assert len(result.caption.split()) <= 8
    assert not any(n.startswith("caption") for n in result.notices)


def test_missing_captioner_folder_raises_model_not_found(tmp_path, draw_image):
    with pytest.raises(ModelNotFoundError, match="captioner_model"):
        models_only(captioner_model=tmp_path / "nowhere").describe_image(draw_image())


def test_captioner_without_safetensors_is_refused(tmp_path, draw_image):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "vision-encoder-decoder"}))
    (folder / "pytorch_model.bin").write_bytes(b"a pickle: never loaded")
    with pytest.raises(ModelNotFoundError, match="safetensors"):
        models_only(captioner_model=folder).describe_image(draw_image())
