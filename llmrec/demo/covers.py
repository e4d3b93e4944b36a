"""Posters and album covers for the demo, drawn with Pillow: gradient, genre motif, big title, tagline, credit line.

Large bold letters on plain bands so OCR reads them back; seeded motifs so a redraw is byte-identical.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from llmrec.demo.catalog import Cover

POSTER_SIZE = (600, 900)  # width, height in pixels: a 2:3 one-sheet
COVER_SIZE = (600, 600)  # album covers are square


@dataclass(frozen=True)
class Theme:
    top: tuple[int, int, int]  # gradient colours, RGB
    bottom: tuple[int, int, int]
    ink: tuple[int, int, int]  # text colour; chosen to contrast with both gradient ends
    motif: str


# One palette per genre so posters of one genre look alike and genres look different (dark blue for space...).
THEMES = {
    "space": Theme((6, 10, 40), (20, 40, 110), (235, 240, 255), "stars"),
    "action": Theme((60, 20, 10), (200, 90, 20), (255, 240, 210), "bars"),
    "horror": Theme((10, 0, 0), (110, 0, 10), (245, 225, 215), "drips"),
    "animation": Theme((40, 160, 220), (250, 200, 80), (25, 25, 60), "bubbles"),
    "thriller": Theme((5, 20, 25), (20, 90, 100), (230, 250, 250), "bars"),
    "comedy": Theme((255, 210, 40), (255, 120, 40), (40, 20, 60), "confetti"),
    "drama": Theme((60, 70, 85), (150, 140, 125), (250, 245, 235), "lines"),
    "documentary": Theme((30, 70, 40), (150, 170, 90), (250, 250, 235), "contours"),
    "romance": Theme((120, 20, 60), (250, 150, 170), (255, 245, 250), "bubbles"),
    "winter": Theme((190, 210, 230), (245, 250, 255), (20, 30, 60), "snow"),
    "sea": Theme((10, 60, 90), (120, 180, 190), (250, 250, 240), "lines"),
    "neon": Theme((20, 0, 40), (200, 0, 150), (240, 255, 255), "bars"),
    "western": Theme((120, 60, 20), (230, 170, 90), (40, 20, 10), "contours"),
    "night": Theme((0, 0, 15), (30, 30, 70), (230, 230, 250), "stars"),
}

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "DejaVuSans-Bold.ttf",  # let FreeType search its own font folders
    "/Library/Fonts/Arial Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)


@lru_cache(maxsize=None)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A bold TrueType font at ``size`` px (clear, large letters OCR reads well), else Pillow's built-in one."""
    for candidate in _FONT_CANDIDATES:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def draw_cover(title: str, cover: Cover, size: tuple[int, int], seed: int) -> bytes:
    """Draw a poster or album cover as PNG bytes: gradient, genre motif, big title, tagline, credit line."""
    width, height = size
    theme = THEMES[cover.theme]
    image = _gradient(size, theme.top, theme.bottom)
    draw = ImageDraw.Draw(image)
    _MOTIFS[theme.motif](draw, random.Random(seed), size, theme)
    shadow = tuple(255 - c for c in theme.ink)
    title_bottom = _draw_centered(draw, title.upper(), top=int(height * 0.08), width=width,
                                  start_size=width // 8, max_lines=3, ink=theme.ink, shadow=shadow)
    tagline_top = max(title_bottom + height // 12, int(height * (0.62 if height > width else 0.55)))
    _draw_centered(draw, cover.tagline.upper(), top=tagline_top, width=width, start_size=width // 14,
                   max_lines=3, ink=theme.ink, shadow=shadow)
    if cover.credit:
        _draw_centered(draw, cover.credit, top=height - height // 10, width=width, start_size=width // 26,
                       max_lines=1, ink=theme.ink, shadow=shadow)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    width, height = size
    ramp = np.linspace(0.0, 1.0, height)[:, None]  # (H, 1)
    rows = (1 - ramp) * np.array(top) + ramp * np.array(bottom)  # (H, 3)
    pixels = np.repeat(rows[:, None, :], width, axis=1).round().astype(np.uint8)  # (H, W, 3)
    return Image.fromarray(pixels, "RGB")


def _draw_centered(draw: ImageDraw.ImageDraw, text: str, top: int, width: int, start_size: int, max_lines: int,
                   ink: tuple[int, ...], shadow: tuple[int, ...]) -> int:
    """Draw ``text`` centred, wrapped to at most ``max_lines``, shrinking the font until it fits; returns its bottom."""
    margin = width // 12
    size = start_size
    while True:
        font = _font(size)
        lines = _wrap(draw, text, font, width - 2 * margin)
        if len(lines) <= max_lines or size <= 12:
            break
        size = int(size * 0.9)
    y = top
    for line in lines:
        left, upper, right, lower = draw.textbbox((0, 0), line, font=font, stroke_width=max(1, size // 18))
        x = (width - (right - left)) // 2 - left
        draw.text((x, y - upper), line, font=font, fill=ink, stroke_width=max(1, size // 18), stroke_fill=shadow)
        y += (lower - upper) + size // 4
    return y


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, max_width: int) -> list[str]:
    """Greedy word wrap by measured pixel width (character counts lie for proportional fonts)."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=font) <= max_width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines or [text]


def _stars(draw, rng: random.Random, size, theme: Theme) -> None:
    width, height = size
    for _ in range(220):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.choice((1, 1, 1, 2, 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 230))
    if height > width:  # a planet in the gap between title and tagline; square covers have no such gap
        x, y, r = rng.randrange(width // 4, 3 * width // 4), int(height * 0.45), width // 5
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_mix(theme.bottom, (200, 220, 255), 0.4))


def _drips(draw, rng: random.Random, size, theme: Theme) -> None:
    width, height = size
    for x in range(0, width, max(8, width // 30)):
        length = rng.randrange(height // 20, height // 3)
        w = rng.randrange(4, 14)
        draw.rectangle((x, 0, x + w, length), fill=(150, 0, 0))
        draw.ellipse((x - 2, length - w // 2, x + w + 2, length + w), fill=(150, 0, 0))


def _bars(draw, rng: random.Random, size, theme: Theme) -> None:
    width, height = size
    for _ in range(14):
        x = rng.randrange(-width, width)
        w = rng.randrange(10, 60)
        colour = _mix(theme.top, theme.bottom, rng.random())
        draw.polygon([(x, height), (x + w, height), (x + w + width, 0), (x + width, 0)], fill=colour)


def _bubbles(draw, rng: random.Random, size, theme: Theme) -> None:
    width, height = size
    for _ in range(40):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(8, width // 8)
        colour = _mix(theme.bottom, (255, 255, 255), rng.uniform(0.2, 0.6))
        draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=4)


def _confetti(draw, rng: random.Random, size, theme: Theme) -> None:
    width, height = size
    palette = ((220, 40, 90), (40, 120, 220), (30, 170, 90), (250, 250, 250), (120, 40, 160))
    for _ in range(180):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.rectangle((x, y, x + rng.randrange(6, 16), y + rng.randrange(4, 10)), fill=rng.choice(palette))


def _lines(draw, rng: random.Random, size, theme: Theme) -> None:
    width, height = size
    for y in range(height // 3, height, rng.randrange(18, 30)):
        draw.line((0, y, width, y + rng.randrange(-20, 20)), fill=_mix(theme.top, theme.bottom, 0.5), width=2)


def _contours(draw, rng: random.Random, size, theme: Theme) -> None:
    width, height = size
    cx, cy = rng.randrange(width), rng.randrange(height // 3, height)
    for r in range(20, max(width, height), 28):
        draw.ellipse((cx - r, cy - r * 0.6, cx + r, cy + r * 0.6), outline=_mix(theme.top, theme.bottom, 0.3),
                     width=2)


def _snow(draw, rng: random.Random, size, theme: Theme) -> None:
    width, height = size
    ridge = [(x, int(height * 0.55) + rng.randrange(-60, 60)) for x in range(0, width + 60, 60)]
    draw.polygon([(0, height), *ridge, (width, height)], fill=(170, 188, 212))  # snowy fells
    for _ in range(260):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.choice((2, 3, 3, 4))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255), outline=(120, 140, 170))


_MOTIFS: dict[str, Callable[..., None]] = {"stars": _stars, "drips": _drips, "bars": _bars, "bubbles": _bubbles,
                                           "confetti": _confetti, "lines": _lines, "contours": _contours,
                                           "snow": _snow}


def _mix(a: tuple[int, ...], b: tuple[int, ...], share_of_b: float) -> tuple[int, ...]:
    return tuple(round(x * (1 - share_of_b) + y * share_of_b) for x, y in zip(a, b))
