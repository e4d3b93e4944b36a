"""Read text printed in images (titles on posters, covers, product labels) with RapidOCR.

rapidocr-onnxruntime ships its PP-OCR detection/recognition ONNX weights inside the wheel, so this works offline
with nothing to configure. Building the engine loads three ONNX sessions (about a second), so one engine is built
on first use and reused for every image.

Known limit: the packaged recogniser (PP-OCRv4, Chinese + English) sometimes drops the space between large,
widely spaced capitals ("DRAGONSIN THE SNOW"); the letters are right, and subword embeddings still match them.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from PIL import Image

# Recognised lines scoring below this are dropped: on posters, low-confidence lines are mostly texture or tiny
# credits read wrongly, and a wrong title on an item card is worse than none.
MIN_LINE_CONFIDENCE = 0.65
# A kept line needs at least this many letters or digits (drops stray "|", "-", "." detections).
MIN_LINE_ALNUM = 2
# Larger images are shrunk to this longer side first. RapidOCR's detector upscales until the shorter side is
# 736 px but never downscales, so a 1400x2100 photo costs ~3 s on two cores; at 1280 px poster text stays legible.
OCR_MAX_SIDE = 1280

_SPACES = re.compile(r"\s+")


class ImageTextReader:
    """OCR for one process: a lazily built RapidOCR engine, reused across calls."""

    def __init__(self, min_confidence: float = MIN_LINE_CONFIDENCE):
        self.min_confidence = min_confidence
        self._engine: Any = None
        self._lock = threading.Lock()

    def read_text(self, image: Image.Image) -> str | None:
        """Return the confident text lines of an RGB image, top to bottom, one per line; None when there are none."""
        result, _timings = self._get_engine()(_shrink(image))
        lines = [_clean_line(text) for _box, text, score in (result or []) if float(score) >= self.min_confidence]
        lines = [line for line in lines if sum(ch.isalnum() for ch in line) >= MIN_LINE_ALNUM]
        return "\n".join(lines) or None

    def _get_engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                from rapidocr_onnxruntime import RapidOCR  # heavy: onnxruntime + cv2, imported on first use only

                self._engine = RapidOCR()
            return self._engine


def _shrink(image: Image.Image) -> Image.Image:
    if max(image.size) <= OCR_MAX_SIDE:
        return image
    small = image.copy()
    small.thumbnail((OCR_MAX_SIDE, OCR_MAX_SIDE), Image.Resampling.LANCZOS)
    return small


def _clean_line(text: str) -> str:
    return _SPACES.sub(" ", str(text)).strip()
