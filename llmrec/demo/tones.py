"""Music-like tone previews for the demo's albums, synthesised with numpy so no recording is shipped."""

from __future__ import annotations

import io
import math
import wave
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 22_050  # Hz, for the synthesised tone previews


@dataclass(frozen=True)
class ToneStyle:
    bpm: int
    scale: tuple[int, ...]  # semitones above the root
    root_hz: float
    amplitude: float  # 0..1 of full scale
    brightness: int  # number of odd harmonics added: 0 is a pure sine, more sounds buzzier
    note_beats: float  # how long each note lasts, in beats


TONE_STYLES = {
    "lullaby": ToneStyle(bpm=60, scale=(0, 2, 4, 7, 9, 12), root_hz=261.63, amplitude=0.25, brightness=0,
                         note_beats=1.0),
    "pulse": ToneStyle(bpm=128, scale=(0, 3, 7, 10), root_hz=110.0, amplitude=0.6, brightness=5, note_beats=0.5),
}


def tone_preview(style: str, seed: int, seconds: float = 8.0) -> bytes:
    """A short music-like preview: seeded notes from a scale at a style's tempo, as 16-bit mono WAV bytes.

    Tempo, loudness and brightness differ by style so audio descriptors (tempo, RMS, spectral centroid) can tell
    a slow quiet piano-like piece from a loud fast electronic one.
    """
    spec = TONE_STYLES[style]
    rng = np.random.default_rng(seed)
    note_seconds = 60.0 / spec.bpm * spec.note_beats
    n_notes = math.ceil(seconds / note_seconds)
    t = np.arange(int(note_seconds * SAMPLE_RATE)) / SAMPLE_RATE  # (samples per note,)
    envelope = np.exp(-t * (3.0 if spec.brightness == 0 else 8.0))  # plucked/struck decay
    notes = []
    for semitone in rng.choice(spec.scale, size=n_notes):
        hz = spec.root_hz * 2 ** (semitone / 12)
        wave_ = sum(np.sin(2 * np.pi * hz * k * t) / k for k in range(1, 2 * spec.brightness + 2, 2))
        notes.append(wave_ * envelope)
    signal = np.concatenate(notes)[: int(seconds * SAMPLE_RATE)]
    signal = spec.amplitude * signal / max(1e-9, float(np.abs(signal).max()))
    return _wav_bytes((signal * 32_767).astype("<i2"))


def _wav_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()
