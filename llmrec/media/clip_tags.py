"""Zero-shot image tags from a local open_clip model.

The model folder uses the layout of open_clip's Hugging Face export (``open_clip.push_to_hf_hub``)::

    <folder>/open_clip_config.json        {"model_cfg": {...}, "preprocess_cfg": {...}}   (preprocess_cfg optional)
    <folder>/open_clip_model.safetensors  the weights

Only safetensors weights are read: a ``.bin``/``.pt`` checkpoint is a pickle and can run code when loaded, so it
is refused rather than passed to ``torch.load``. Nothing is downloaded: the architecture comes from the JSON,
the weights from the folder. (A model whose text tower is a Hugging Face model, ``text_cfg.hf_model_name``, also
needs that model's config in the local Hugging Face cache.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from llmrec.errors import ModelNotFoundError

CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"
# CLIP was trained on captions, so a label scores better inside a caption-like sentence than alone.
PROMPT_TEMPLATE = "a photo of {label}."


class ClipTagger:
    """Score an image against a fixed label list with a local open_clip model; the model loads on first use."""

    def __init__(self, model_dir: Path, labels: Sequence[str], top_k: int):
        if not labels:
            raise ValueError("ClipTagger needs at least one label")
        self.model_dir = Path(model_dir)
        self.labels = list(labels)
        self.top_k = min(top_k, len(self.labels))
        self._loaded: _LoadedClip | None = None
        self._lock = threading.Lock()

    def tags(self, image: Image.Image) -> list[str]:
        """The ``top_k`` labels that best match an RGB image, most likely first."""
        import torch

        clip = self._load()
        with torch.inference_mode():
            pixels = clip.preprocess(image).unsqueeze(0)  # (1, 3, H, W)
            image_features = clip.model.encode_image(pixels, normalize=True)  # (1, D)
            # Cosine similarity scaled by the model's learned temperature, as in CLIP's zero-shot evaluation.
            logits = clip.model.logit_scale.exp() * image_features @ clip.label_features.T  # (1, L)
            probs = logits.softmax(dim=-1)[0]
        best = torch.topk(probs, self.top_k).indices.tolist()
        return [self.labels[i] for i in best]

    def _load(self) -> "_LoadedClip":
        with self._lock:
            if self._loaded is None:
                self._loaded = _load_clip(self.model_dir, self.labels)
            return self._loaded


@dataclass(frozen=True)
class _LoadedClip:
    model: Any  # open_clip CLIP / CustomTextCLIP in eval mode
    preprocess: Any  # PIL image -> (3, H, W) tensor, the model's own inference transform
    label_features: Any  # (L, D) L2-normalised text embeddings; the labels are fixed, so encoded once


def _load_clip(model_dir: Path, labels: list[str]) -> _LoadedClip:
    _check_folder(model_dir)
    import open_clip
    import torch
    from safetensors.torch import load_file

    source = f"local-dir:{model_dir}"
    try:
        with _quiet_open_clip_factory():
            # load_weights=False: open_clip would pick a checkpoint itself (possibly a pickle); we load the
            # safetensors file explicitly below. pretrained_text=False: never fetch a Hugging Face text tower.
            model, _, preprocess = open_clip.create_model_and_transforms(
                source, load_weights=False, pretrained_text=False
            )
        model.load_state_dict(load_file(str(model_dir / WEIGHTS_FILE), device="cpu"), strict=True)
        tokenizer = open_clip.get_tokenizer(source)
    except Exception as e:  # noqa: BLE001 - any failure here means the folder does not hold a usable model
        raise ModelNotFoundError(
            f"clip_model {model_dir} does not hold a loadable open_clip model: {e}. "
            f"Fix the folder or unset media.clip_model."
        ) from e
    model.eval()
    with torch.inference_mode():
        tokens = tokenizer([PROMPT_TEMPLATE.format(label=label) for label in labels])
        label_features = model.encode_text(tokens, normalize=True)
    return _LoadedClip(model, preprocess, label_features)


def _check_folder(model_dir: Path) -> None:
    if not model_dir.is_dir():
        raise ModelNotFoundError(
            f"clip_model folder {model_dir} does not exist; it needs {CONFIG_FILE} and {WEIGHTS_FILE} "
            f"(open_clip's hub layout). Fix the path or unset media.clip_model."
        )
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE) if not (model_dir / name).is_file()]
    if missing:
        raise ModelNotFoundError(
            f"clip_model folder {model_dir} lacks {', '.join(missing)}; only safetensors weights are loaded "
            f"(open_clip's hub layout: {CONFIG_FILE} + {WEIGHTS_FILE})."
        )
    try:
        config = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelNotFoundError(f"clip_model {model_dir / CONFIG_FILE} is not valid JSON: {e}") from None
    if not isinstance(config, dict) or "model_cfg" not in config:
        raise ModelNotFoundError(f"clip_model {model_dir / CONFIG_FILE} has no 'model_cfg' section")


class _DropRandomInitWarnings(logging.Filter):
    """open_clip warns "initialized randomly" because we load the weights ourselves right after; that is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("No pretrained weights loaded") or "no CLIP weights found" in message)


@contextlib.contextmanager
def _quiet_open_clip_factory() -> Iterator[None]:
    # open_clip logs through the root logger, so the filter has to sit there, only for the duration of the build.
    root = logging.getLogger()
    dropper = _DropRandomInitWarnings()
    root.addFilter(dropper)
    try:
        yield
    finally:
        root.removeFilter(dropper)
