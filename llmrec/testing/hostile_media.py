"""Hostile media for tests: the files and paths a catalog written by someone else may point at.

Everything is built cheaply: the bomb PNG is compressed while it is written (never held as pixels), the huge and the
three-hour files are sparse (a header, then a hole), so the whole set costs well under a megabyte of disk.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import wave
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image


def bomb_png(path: Path, side: int = 30_000) -> Path:
    """A valid 1-bit greyscale PNG of ``side`` x ``side`` black pixels: 900 M pixels in under a megabyte."""
    row = b"\x00" + bytes((side + 7) // 8)  # filter byte "none", then the row's packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def sparse_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that occupies (almost) no disk: reading it would take minutes."""
    with path.open("wb") as f:
        f.truncate(size)
    return path


def long_silent_wav(path: Path, seconds: float, rate: int = 8_000) -> Path:
    """A 16-bit mono WAV of ``seconds`` of digital silence, written as a header plus a sparse hole."""
    size = 2 * int(seconds * rate)
    header = (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE"
              + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)  # PCM, mono, 16-bit
              + b"data" + struct.pack("<I", size))
    with path.open("wb") as f:
        f.write(header)
        f.truncate(len(header) + size)
    return path


def tone_wav(path: Path, seconds: float = 1.0, rate: int = 16_000) -> Path:
    """A short, quiet 440 Hz tone: an ordinary, harmless recording."""
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    samples = (0.2 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def link_out(folder: Path, outside: Path, link: str, secret: str = "secret.png") -> Path:
    """``outside/<secret>``, a real (red) image that nothing may read, and ``folder/<link>``, a symbolic link to it
    from inside ``folder``: the link a catalog written by someone else may hide among its media. Both folders are
    made if missing; returns the secret's path."""
    folder.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (200, 30, 30)).save(outside / secret)
    (folder / link).symlink_to(outside / secret)
    return outside / secret


@dataclass(frozen=True)
class HostileCatalog:
    """A catalog mixing normal items with hostile media entries, and what each hostile entry must come to."""

    catalog: Path  # catalog.jsonl inside its own folder
    outside: Path  # a folder beside the catalog's: nothing in it may be read
    normal: dict[str, str]  # item id -> title, items with no media problem
    refused: dict[str, str]  # item id -> a fragment of the error its media entry must carry
    never_opened: tuple[str, ...]  # file names (inside and outside the catalog folder) nothing may open


def write_hostile_catalog(folder: Path) -> HostileCatalog:
    """``folder/catalog/catalog.jsonl`` with three normal items and eight hostile media entries (issue 21)."""
    data, outside = folder / "catalog", folder / "outside"
    data.mkdir(parents=True)
    # A real image outside the catalog's folder: were it read, it would be described, embedded and served.
    link_out(data, outside, "link.png")
    Image.new("RGB", (64, 48), (30, 30, 200)).save(data / "poster.png")
    tone_wav(data / "tone.wav")
    os.mkfifo(data / "pipe.wav")
    sparse_file(data / "huge.png", 20 * 2**30)
    long_silent_wav(data / "long.wav", 3 * 3600)
    bomb_png(data / "bomb.png")
    rows = [
        {"id": "plain", "title": "Plain Item", "description": "text only"},
        {"id": "poster", "title": "Poster Item", "description": "a normal image", "image": "poster.png"},
        {"id": "tone", "title": "Tone Item", "description": "a normal recording", "audio": "tone.wav"},
        {"id": "long", "title": "Three Hours", "description": "a very long recording", "audio": "long.wav"},
        {"id": "zero", "title": "Dev Zero", "image": "/dev/zero"},
        {"id": "fifo", "title": "Named Pipe", "audio": "pipe.wav"},
        {"id": "dotdot", "title": "Dot Dot", "image": "../outside/secret.png"},
        {"id": "absolute", "title": "Absolute", "image": str(outside / "secret.png")},
        {"id": "symlink", "title": "Symlink Out", "image": "link.png"},
        {"id": "sparse", "title": "Huge Sparse", "image": "huge.png"},
        {"id": "bomb", "title": "Bomb PNG", "image": "bomb.png"},
    ]
    catalog = data / "catalog.jsonl"
    catalog.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return HostileCatalog(
        catalog=catalog,
        outside=outside,
        normal={"plain": "Plain Item", "poster": "Poster Item", "tone": "Tone Item", "long": "Three Hours"},
        refused={"zero": "outside the allowed media folders", "fifo": "named pipe",
                 "dotdot": "outside the allowed media folders", "absolute": "outside the allowed media folders",
                 "symlink": "resolves to", "sparse": "over the", "bomb": "image too large"},
        never_opened=("secret.png", "zero", "pipe.wav", "huge.png"),
    )


# ---------------------------------------------------------------------------------------------- what was opened

_RECORDERS: list[list[str]] = []
_HOOKED = False


@contextmanager
def recorded_opens() -> Iterator[list[str]]:
    """The path (or descriptor) of every file Python code opens (``open``, ``os.open``) while inside the block.

    It listens to the interpreter's "open" audit event. Audit hooks cannot be removed, so one hook is installed per
    process and does nothing outside these blocks. Native code opening a path by itself is not seen: llmrec hands
    decoders open file objects, so its media reads all pass through here.
    """
    global _HOOKED
    if not _HOOKED:
        sys.addaudithook(_record_open)
        _HOOKED = True
    seen: list[str] = []
    _RECORDERS.append(seen)
    try:
        yield seen
    finally:
        _RECORDERS.remove(seen)


def _record_open(event: str, args: tuple) -> None:
    if event == "open" and _RECORDERS:
        target = args[0]
        name = os.fsdecode(target) if isinstance(target, (str, bytes, os.PathLike)) else str(target)
        for seen in _RECORDERS:
            seen.append(name)
