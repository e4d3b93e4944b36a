"""The describer's contract with the caller: cheap to import and build, and a signature that keys the cache."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llmrec.config import MediaConfig
from llmrec.media import MediaDescriber

HEAVY_MODULES = ["torch", "open_clip", "transformers", "faster_whisper", "librosa", "rapidocr_onnxruntime", "cv2"]


def test_importing_llmrec_media_imports_no_heavy_library():
    probe = (
        "import sys, llmrec.media; "
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == ""


def test_building_a_describer_loads_nothing_even_with_missing_model_paths(tmp_path):
    describer = MediaDescriber(
        MediaConfig(clip_model=tmp_path / "a", captioner_model=tmp_path / "b", whisper_model=tmp_path / "c")
    )
    assert describer.signature("image").startswith("image-")
    assert describer.signature("audio").startswith("audio-")


def test_signature_is_stable_for_the_same_configuration():
    assert MediaDescriber(MediaConfig()).signature("image") == MediaDescriber(MediaConfig()).signature("image")
    assert MediaDescriber(MediaConfig()).signature("audio") == MediaDescriber(MediaConfig()).signature("audio")


@pytest.mark.parametrize(
    "change",
    [{"ocr": False}, {"visual_facts": False}, {"max_image_pixels": 1000}, {"clip_model": "/models/clip"}],
)
def test_image_signature_changes_with_image_settings(change):
    assert MediaDescriber(MediaConfig(**change)).signature("image") != MediaDescriber(MediaConfig()).signature("image")


def test_image_signature_ignores_audio_settings():
    base = MediaDescriber(MediaConfig()).signature("image")
    assert MediaDescriber(MediaConfig(transcribe=False, max_audio_seconds=5)).signature("image") == base


def test_clip_labels_and_top_k_change_the_signature_only_when_clip_is_configured():
    with_clip = {"clip_model": "/models/clip"}
    base = MediaDescriber(MediaConfig(**with_clip)).signature("image")
    assert MediaDescriber(MediaConfig(**with_clip, clip_top_k=5)).signature("image") != base
    assert MediaDescriber(MediaConfig(**with_clip, clip_labels=["a cat"])).signature("image") != base
    assert MediaDescriber(MediaConfig(clip_top_k=5)).signature("image") == MediaDescriber(MediaConfig()).signature(
        "image"
    )


@pytest.mark.parametrize("change", [{"transcribe": False}, {"audio_descriptors": False}, {"max_audio_seconds": 30}])
def test_audio_signature_changes_with_audio_settings(change):
    assert MediaDescriber(MediaConfig(**change)).signature("audio") != MediaDescriber(MediaConfig()).signature("audio")


def test_signature_changes_when_model_weights_are_replaced_in_place(tmp_path):
    folder = tmp_path / "captioner"
    folder.mkdir()
    weights = folder / "model.safetensors"
    weights.write_bytes(b"version one")
    describer = MediaDescriber(MediaConfig(captioner_model=folder))
    before = describer.signature("image")
    weights.write_bytes(b"version two, retrained")
    assert describer.signature("image") != before


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown media kind"):
        MediaDescriber(MediaConfig()).signature("video")
