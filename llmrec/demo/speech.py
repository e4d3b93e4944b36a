"""Spoken podcast intros for the demo: espeak-ng's default English voice, deterministic for a given version."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from llmrec.errors import LLMRecError

SPEECH_RATE_WPM = 150  # espeak-ng's -s: slow enough for small speech-to-text models to transcribe reliably


def require_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        raise LLMRecError("espeak-ng is not installed; the demo needs it to speak its podcast intros. Install it "
                          "with `apt-get install espeak-ng` (macOS: `brew install espeak-ng`), or write the demo "
                          "without speech (write_demo_catalog(dest, with_speech=False)).")


def speak(text: str) -> bytes:
    """Speak ``text`` with espeak-ng's default English voice; returns WAV bytes (deterministic for a given version)."""
    require_espeak()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        result = subprocess.run(["espeak-ng", "-w", str(out), "-s", str(SPEECH_RATE_WPM), text],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:  # 44 = bare WAV header
            raise LLMRecError(f"espeak-ng failed (exit {result.returncode}): {result.stderr.strip()[:300]}")
        return out.read_bytes()
