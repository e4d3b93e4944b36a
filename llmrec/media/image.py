"""Decode image files safely and turn their pixels into short factual phrases.

Only Pillow and numpy are used here, so visual facts cost milliseconds and need no model weights. Everything a bad
file can do wrong (empty, not an image, truncated, a decompression bomb) surfaces as one ``MediaError`` whose
message is fit to store next to the file's hash.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from llmrec.errors import MediaError

# The working copy handed to OCR and models is at most this many pixels on its longer side: OCR resizes to 2000 px
# anyway and CLIP/captioners to a few hundred, so decoding a 50-megapixel scan at full size would only cost memory.
WORKING_MAX_SIDE = 2048
# Colour and brightness statistics are computed on a thumbnail this size: enough pixels for stable shares.
STATS_SIDE = 128
# A colour is "dominant" when it covers at least this share of the pixels; at most this many are named.
DOMINANT_MIN_SHARE = 0.10
DOMINANT_MAX_COLOURS = 3


@dataclass(frozen=True)
class DecodedImage:
    """An image that decoded cleanly: an RGB working copy plus facts about the original file."""

    rgb: Image.Image  # mode "RGB", longer side <= WORKING_MAX_SIDE, EXIF rotation applied
    width: int  # original size, after EXIF rotation
    height: int
    frames: int  # > 1 for animated GIF/WebP/APNG; only the first frame is analysed
    has_transparency: bool


def load_image(source: Path | BinaryIO, max_pixels: int) -> DecodedImage:
    """Open, verify and decode an image; raise ``MediaError`` with a readable reason when it is not a usable image.

    ``source`` is an open binary file (what ingest passes: a ``MediaFile`` already checked for where it lives and how
    large it is) or a path, which is opened as a regular file only (``open_regular``). The pixel count is checked from
    the header before any pixel is decoded, so a decompression bomb never allocates its memory and decoding costs at
    most ``max_pixels``. Pillow's own process-wide limit (``Image.MAX_IMAGE_PIXELS``) is left untouched: it still
    applies on top of ``max_pixels`` and is reported the same way.
    """
    from llmrec.media.files import opened_media

    with opened_media(source) as media:
        width, height = _verify(media, max_pixels)
        try:
            media.seek(0)
            return _decode(media, width, height)
        except MediaError:
            raise
        except Exception as e:  # noqa: BLE001 - any decoder failure on a user's file is a property of that file
            raise MediaError(f"cannot decode image: {_reason(e)}") from e


def _verify(source: BinaryIO, max_pixels: int) -> tuple[int, int]:
    """Identify the format and check integrity and size without decoding pixels; return the header's size."""
    try:
        with warnings.catch_warnings():
            # Pillow warns between its limit and twice its limit; we decide ourselves just below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                width, height = im.size
                _check_pixel_count(width, height, max_pixels)
                im.verify()
    except MediaError:
        raise
    except Image.DecompressionBombError as e:
        raise MediaError(f"image too large: {_reason(e)}") from None
    except Image.UnidentifiedImageError:
        raise MediaError("not an image: cannot identify image file") from None
    except Exception as e:  # noqa: BLE001 - verify() raises many types (SyntaxError, struct.error, OSError, ...)
        raise MediaError(f"corrupt image: {_reason(e)}") from None
    return width, height


def _check_pixel_count(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise MediaError(
            f"image too large: {width}x{height} = {width * height:,} pixels exceeds max_image_pixels {max_pixels:,}"
        )


def _decode(source: BinaryIO, width: int, height: int) -> DecodedImage:
    # verify() leaves the image unusable, so decoding needs a second open (Pillow's documented pattern).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(source) as im:
            frames = int(getattr(im, "n_frames", 1) or 1)
            # For JPEG, draft() makes the decoder downscale by 1/2..1/8 while decoding: far faster for big photos.
            im.draft("RGB", (WORKING_MAX_SIDE, WORKING_MAX_SIDE))
            im.load()
            transposed = ImageOps.exif_transpose(im)
    has_alpha = _has_transparency(transposed)
    rgb = _to_rgb(transposed)
    rgb.thumbnail((WORKING_MAX_SIDE, WORKING_MAX_SIDE), Image.Resampling.LANCZOS)
    if transposed.size != im.size:  # EXIF rotated by 90 degrees: the original's size swaps too
        width, height = height, width
    return DecodedImage(rgb=rgb, width=width, height=height, frames=frames, has_transparency=has_alpha)


def _has_transparency(im: Image.Image) -> bool:
    if im.mode in ("RGBA", "LA", "PA"):
        return im.getchannel("A").getextrema()[0] < 255
    return "transparency" in im.info


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB copy with transparent areas composited onto white (how a viewer would show them; OCR wants that too)."""
    if im.mode == "RGB":
        return im.copy()
    if im.mode.startswith(("I", "F")):  # 16/32-bit greyscale: stretch to 8 bits instead of clipping at 255
        im = _to_8bit_grey(im)
    rgba = im.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _to_8bit_grey(im: Image.Image) -> Image.Image:
    values = np.asarray(im, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
    return Image.fromarray(scaled.astype(np.uint8))  # 2-D uint8 -> mode "L"


def _reason(e: BaseException) -> str:
    return str(e).strip() or type(e).__name__


# ---------------------------------------------------------------------------------------------------- visual facts


def visual_facts(image: DecodedImage) -> list[str]:
    """Plain-word facts about what the image looks like: shape, brightness, contrast, dominant colours."""
    hsv, luma = _pixel_stats(image.rgb)
    facts = [_shape_fact(image.width, image.height)]
    facts += _brightness_facts(luma)
    facts += _colour_facts(hsv)
    if image.frames > 1:
        facts.append(f"animated, {image.frames} frames")
    if image.has_transparency:
        facts.append("transparent background")
    return facts


def _pixel_stats(rgb: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Return (hsv, luma) of a small thumbnail: hsv (N, 3) in [0, 1] with hue in degrees/360, luma (N,) in [0, 1]."""
    small = rgb.copy()
    small.thumbnail((STATS_SIDE, STATS_SIDE), Image.Resampling.BILINEAR)
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32).reshape(-1, 3) / 255.0
    luma = np.asarray(small.convert("L"), dtype=np.float32).reshape(-1) / 255.0  # ITU-R 601 luma
    return hsv, luma


def _shape_fact(width: int, height: int) -> str:
    ratio = width / height
    if ratio > 2.2:
        shape = "panorama"
    elif ratio > 1.05:
        shape = "landscape"
    elif ratio < 1 / 1.05:
        shape = "portrait"
    else:
        shape = "square"
    return f"{shape} {width}x{height} px"


def _brightness_facts(luma: np.ndarray) -> list[str]:
    facts = []
    mean, spread = float(luma.mean()), float(luma.std())
    if mean < 0.25:
        facts.append("dark image")
    elif mean > 0.75:
        facts.append("bright image")
    if spread < 0.06:
        facts.append("low contrast")
    elif spread > 0.32:
        facts.append("high contrast")
    return facts


def _colour_facts(hsv: np.ndarray) -> list[str]:
    names = colour_names(hsv)
    labels, counts = np.unique(names, return_counts=True)
    shares = counts / counts.sum()
    order = np.argsort(-shares, kind="stable")
    dominant = [str(labels[i]) for i in order if shares[i] >= DOMINANT_MIN_SHARE][:DOMINANT_MAX_COLOURS]
    facts = []
    if dominant:
        facts.append("dominant colours: " + ", ".join(dominant))
    achromatic = np.isin(names, list(_ACHROMATIC)).mean()
    if achromatic >= 0.95:
        facts.append("mostly greyscale")
    return facts


_ACHROMATIC = ("black", "dark grey", "grey", "white")


def colour_names(hsv: np.ndarray) -> np.ndarray:
    """Name each pixel with a small everyday palette. ``hsv`` is (N, 3) in [0, 1]; returns (N,) strings.

    Rules on hue/saturation/value rather than nearest-RGB so that names behave predictably: a dark navy stays
    "dark blue" instead of drifting to "black" or "purple" depending on palette spacing.
    """
    hue = hsv[:, 0] * 360.0
    sat, val = hsv[:, 1], hsv[:, 2]
    names = np.full(len(hsv), "grey", dtype=object)
    hue_names = np.select(
        [
            (hue < 15) | (hue >= 345),
            hue < 40,
            hue < 70,
            hue < 160,
            hue < 200,
            hue < 255,
            hue < 290,
        ],
        ["red", "orange", "yellow", "green", "cyan", "blue", "purple"],
        default="pink",
    ).astype(object)
    dark = val < 0.5
    hue_names[(hue_names == "orange") & (val < 0.65)] = "brown"
    hue_names[(hue_names == "yellow") & dark] = "olive"
    hue_names[(hue_names == "cyan") & (val < 0.6)] = "teal"
    for base in ("red", "green", "blue", "purple"):
        hue_names[(hue_names == base) & dark] = "dark " + base
    hue_names[(hue_names == "red") & (sat < 0.5) & (val > 0.7)] = "pink"
    hue_names[(hue_names == "orange") & (sat < 0.45) & (val > 0.75)] = "beige"

    chromatic = (sat >= 0.18) & (val >= 0.2)
    names[chromatic] = hue_names[chromatic]
    names[~chromatic & (val >= 0.85)] = "white"
    names[~chromatic & (val < 0.45)] = "dark grey"
    names[val < 0.2] = "black"
    return names


# A low-level visual descriptor: colour layout and distribution, for the multimodal-fusion baseline where no
# image-text model (CLIP) is available offline. 8 hue x 3 saturation x 3 value bins + a 4 x 6 grey layout.
VISUAL_BINS = (8, 3, 3)
VISUAL_LAYOUT = (4, 6)


def visual_vector(image: DecodedImage) -> np.ndarray:
    """(96,) float32: a normalised HSV colour histogram concatenated with a normalised, centred grey thumbnail."""
    hsv, _ = _pixel_stats(image.rgb)
    bins = [np.minimum((hsv[:, k] * n).astype(np.int64), n - 1) for k, n in enumerate(VISUAL_BINS)]
    flat = (bins[0] * VISUAL_BINS[1] + bins[1]) * VISUAL_BINS[2] + bins[2]
    hist = np.bincount(flat, minlength=int(np.prod(VISUAL_BINS))).astype(np.float32)
    grey = np.asarray(image.rgb.convert("L").resize(VISUAL_LAYOUT, Image.Resampling.BILINEAR),
                      dtype=np.float32).reshape(-1)
    grey -= grey.mean()
    parts = [hist / (np.linalg.norm(hist) or 1.0), grey / (np.linalg.norm(grey) or 1.0)]
    return np.concatenate(parts).astype(np.float32)
