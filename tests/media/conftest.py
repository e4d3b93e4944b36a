"""Fixtures for media tests: media files drawn or synthesised in temp folders, and tiny real models.

Nothing is downloaded. The open_clip and captioner models are randomly initialised, a few hundred kilobytes, and
saved in the same layouts real checkpoints use, so the tests exercise the real loading code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from llmrec.config import MediaConfig
from llmrec.media import MediaDescriber

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SAMPLE_RATE = 16_000

# ----------------------------------------------------------------------------------------------- shared describer


@pytest.fixture(scope="session")
def describer() -> MediaDescriber:
    """Default configuration (OCR, visual facts, packaged Whisper); one per session so models load once."""
    return MediaDescriber(MediaConfig())


# ---------------------------------------------------------------------------------------------------------- images


@pytest.fixture
def draw_image(tmp_path: Path) -> Callable[..., Path]:
    """Save an image made of solid blocks and optional text; returns its path."""

    def draw(
        name: str = "image.png",
        size: tuple[int, int] = (200, 300),
        background: tuple[int, int, int] = (255, 255, 255),
        blocks: list[tuple[tuple[int, int, int, int], tuple[int, int, int]]] = (),
        text: str | None = None,
        text_size: int = 48,
    ) -> Path:
        image = Image.new("RGB", size, background)
        canvas = ImageDraw.Draw(image)
        for box, colour in blocks:
            canvas.rectangle(box, fill=colour)
        if text:
            font = ImageFont.load_default(text_size)  # Pillow's bundled scalable font: no system fonts needed
            canvas.text((30, size[1] // 2 - text_size // 2), text, fill=(0, 0, 0), font=font)
        path = tmp_path / name
        image.save(path)
        return path

    return draw


# ----------------------------------------------------------------------------------------------------------- audio


@pytest.fixture
def write_wav(tmp_path: Path) -> Callable[..., Path]:
    """Write float samples in [-1, 1] as a 16-bit WAV; (N,) mono or (N, C) multichannel."""
    import soundfile

    def write(name: str, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
        path = tmp_path / name
        soundfile.write(path, samples, sample_rate, subtype="PCM_16")
        return path

    return write


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """English speech synthesised by espeak-ng (a system package; the test is skipped without it)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    sentence = "The dragon flew over the snowy mountains at sunrise."
    subprocess.run(["espeak-ng", "-w", str(path), sentence], check=True, capture_output=True, timeout=60)
    return path


# ------------------------------------------------------------------------------------------------- tiny open_clip

TINY_CLIP_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised open_clip CLIP in open_clip's hub layout (config JSON + safetensors weights)."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("tiny_clip")
    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_CLIP_CFG)
    config = {
        "model_cfg": TINY_CLIP_CFG,
        "preprocess_cfg": {"mean": [0.481, 0.458, 0.408], "std": [0.269, 0.261, 0.276]},
    }
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    return folder


# ----------------------------------------------------------------------------------------------- tiny captioner

CAPTION_WORDS = "a the poster of dragon dragons snow blue red sky car person with in on at night city".split()


@pytest.fixture(scope="session")
def tiny_captioner_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised ViT encoder + GPT-2 decoder (VisionEncoderDecoder) with its processor and tokenizer.

    The tokenizer is a word-level vocabulary built in code, so nothing is fetched; special-token embeddings are
    zeroed so greedy decoding emits words instead of stopping at once.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        GPT2Config,
        PreTrainedTokenizerFast,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    folder = tmp_path_factory.mktemp("tiny_captioner")
    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    vocab = {word: i for i, word in enumerate(specials + CAPTION_WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    encoder = ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    decoder = GPT2Config(
        vocab_size=len(vocab), n_positions=64, n_embd=32, n_layer=1, n_head=2, bos_token_id=1, eos_token_id=2
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = 1, 0, 2
    model = VisionEncoderDecoderModel(config=config)
    with torch.no_grad():
        model.decoder.transformer.wte.weight[: len(specials)] = 0.0
    model.generation_config.decoder_start_token_id = 1
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = 2
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder
