"""Image captions from a local transformers image-to-text model.

Any folder that ``AutoModelForImageTextToText`` can load works: VisionEncoderDecoder (ViT-GPT2 style), BLIP, GIT.
Each of these ships an image processor (``preprocessor_config.json``) and a tokenizer, and generates a caption
from ``pixel_values`` alone, so one loading path covers them all. Loading is strictly local and safetensors-only
(``local_files_only``, ``use_safetensors``): no hub access, no pickled weights.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from llmrec.errors import ModelNotFoundError

_SPACES = re.compile(r"\s+")


class ImageCaptioner(Protocol):
    """What the describer needs from a captioner; a new backend only has to provide this."""

    def caption(self, image: Image.Image) -> str | None:
        """One short description of an RGB image, or None when the model produced nothing."""
        ...


class TransformersCaptioner:
    """Greedy captioning with a local transformers image-to-text model; the model loads on first use."""

    def __init__(self, model_dir: Path, max_new_tokens: int):
        self.model_dir = Path(model_dir)
        self.max_new_tokens = max_new_tokens
        self._loaded: _LoadedCaptioner | None = None
        self._lock = threading.Lock()

    def caption(self, image: Image.Image) -> str | None:
        import torch

        loaded = self._load()
        pixel_values = loaded.image_processor(images=image, return_tensors="pt").pixel_values  # (1, 3, H, W)
        pixel_values = pixel_values.to(loaded.model.dtype)
        with torch.inference_mode():
            # Greedy and single-beam: deterministic (the cache key assumes the same file gives the same caption)
            # and the cheapest decoding on CPU.
            output_ids = loaded.model.generate(
                pixel_values=pixel_values, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1
            )
        text = loaded.tokenizer.batch_decode(output_ids, skip_special_tokens=True)[0]
        return _SPACES.sub(" ", text).strip() or None

    def _load(self) -> "_LoadedCaptioner":
        with self._lock:
            if self._loaded is None:
                self._loaded = _load_captioner(self.model_dir)
            return self._loaded


@dataclass(frozen=True)
class _LoadedCaptioner:
    image_processor: Any
    tokenizer: Any
    model: Any  # an AutoModelForImageTextToText model in eval mode


def _load_captioner(model_dir: Path) -> _LoadedCaptioner:
    _check_folder(model_dir)
    from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer

    try:
        image_processor = AutoImageProcessor.from_pretrained(model_dir, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(model_dir, local_files_only=True, use_safetensors=True)
    except Exception as e:  # noqa: BLE001 - any failure here means the folder does not hold a usable model
        raise ModelNotFoundError(
            f"captioner_model {model_dir} does not hold a loadable image-to-text model "
            f"(needs config.json, *.safetensors, preprocessor_config.json and a tokenizer): {e}. "
            f"Fix the folder or unset media.captioner_model."
        ) from e
    model.eval()
    return _LoadedCaptioner(image_processor=image_processor, tokenizer=tokenizer, model=model)


def _check_folder(model_dir: Path) -> None:
    if not model_dir.is_dir():
        raise ModelNotFoundError(
            f"captioner_model folder {model_dir} does not exist. Point media.captioner_model at a local "
            f"transformers image-to-text model (e.g. a saved BLIP or ViT-GPT2 folder) or unset it."
        )
    if not any(model_dir.glob("*.safetensors")):
        raise ModelNotFoundError(
            f"captioner_model folder {model_dir} has no *.safetensors weights; only safetensors are loaded "
            f"(re-save the model with save_pretrained(..., safe_serialization=True))."
        )
