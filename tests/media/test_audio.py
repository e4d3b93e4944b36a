"""Audio becomes a transcript and descriptor words; silence and bad files never crash or invent words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmrec.config import MediaConfig
from llmrec.media import MediaDescriber

SAMPLE_RATE = 16_000


def sine(freq: float, seconds: float, amplitude: float = 0.5, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def beat_music(bpm: float = 120.0, seconds: float = 8.0, sample_rate: int = 22_050) -> np.ndarray:
    """A plucked C-major arpeggio with a kick drum on every beat: a clear, regular pulse at ``bpm``."""
    out = np.zeros(int(seconds * sample_rate), dtype=np.float32)
    notes = [261.6, 329.6, 392.0, 523.3, 392.0, 329.6]
    period = 60.0 / bpm
    t = np.arange(int(0.9 * period * sample_rate)) / sample_rate
    kick_t = t[: int(0.08 * sample_rate)]
    kick = 0.6 * np.exp(-40 * kick_t) * np.sin(2 * np.pi * (120 - 600 * kick_t) * kick_t * 6)
    for beat in range(int(seconds / period)):
        start = int(beat * period * sample_rate)
        freq = notes[beat % len(notes)]
        sound = 0.3 * np.exp(-6 * t) * (np.sin(2 * np.pi * freq * t) + 0.5 * np.sin(4 * np.pi * freq * t))
        sound[: len(kick)] += kick
        end = min(len(out), start + len(sound))
        out[start:end] += sound[: end - start]
    return out


def descriptors_only(**overrides) -> MediaDescriber:
    """A describer that loads no model: librosa descriptors only."""
    return MediaDescriber(MediaConfig(transcribe=False, **overrides))


# ---------------------------------------------------------------------------------------------------------- speech


def test_speech_is_transcribed_and_tagged_speech(describer, speech_wav):
    result = describer.describe_audio(speech_wav)
    assert result.error is None
    assert result.text is not None
    words = result.text.lower()
    assert "dragon" in words and "mountains" in words
    assert "speech" in result.tags
    assert "spoken word" in result.facts


def test_speech_is_recognised_without_transcription(speech_wav):
    result = descriptors_only().describe_audio(speech_wav)
    assert result.text is None
    assert result.tags == ["speech"]


# ------------------------------------------------------------------------------------------------- silence & tones


def test_short_silence_is_tagged_silent_without_transcript(describer, write_wav):
    # Design choice: silence is a valid recording, so error stays None; it is tagged and never transcribed.
    result = describer.describe_audio(write_wav("silence.wav", np.zeros(int(0.1 * SAMPLE_RATE))))
    assert result.error is None
    assert result.text is None
    assert result.tags == ["silence"]
    assert result.facts == ["duration 0.1 s", "silent"]


def test_steady_tone_has_no_transcript_and_is_not_speech(describer, write_wav):
    # Stereo at 44.1 kHz also exercises down-mixing and resampling.
    tone = sine(440, 3.0, sample_rate=44_100)
    result = describer.describe_audio(write_wav("tone.wav", np.stack([tone, tone], axis=1), 44_100))
    assert result.error is None
    assert result.text is None
    assert result.tags == ["tone"]
    assert "duration 3.0 s" in result.facts
    assert "steady tone" in result.facts


def test_regular_beat_is_music_with_its_tempo(write_wav):
    result = descriptors_only().describe_audio(write_wav("song.wav", beat_music(bpm=120), 22_050))
    assert result.tags == ["music"]
    assert "tempo about 120 bpm" in result.facts


def test_music_gets_no_invented_transcript(describer, write_wav):
    result = describer.describe_audio(write_wav("song.wav", beat_music(bpm=120), 22_050))
    assert result.text is None
    assert "speech" not in result.tags


def test_very_short_sound_gets_facts_but_no_kind_label(write_wav):
    result = descriptors_only().describe_audio(write_wav("blip.wav", sine(1000, 0.2)))
    assert result.error is None
    assert result.tags == []
    assert "duration 0.2 s" in result.facts


def test_white_noise_is_noise_with_bright_timbre(write_wav):
    noise = np.random.default_rng(0).normal(0, 0.1, 3 * SAMPLE_RATE).clip(-1, 1)
    result = descriptors_only().describe_audio(write_wav("hiss.wav", noise))
    assert result.tags == ["noise"]
    assert "bright timbre" in result.facts


def test_loudness_words_follow_the_level(write_wav):
    quiet = descriptors_only().describe_audio(write_wav("quiet.wav", sine(440, 2.0, amplitude=0.01)))
    loud = descriptors_only().describe_audio(write_wav("loud.wav", sine(440, 2.0, amplitude=0.9)))
    assert "quiet" in quiet.facts
    assert "loud" in loud.facts


def test_long_audio_is_truncated_to_max_audio_seconds(write_wav):
    result = descriptors_only(max_audio_seconds=2.0).describe_audio(write_wav("long.wav", sine(440, 5.0)))
    assert "duration 5.0 s" in result.facts  # the file's duration, not the analysed part
    assert "audio longer than max_audio_seconds: only the first 2 s used" in result.notices
    assert "described the first 2.0 s of 5.0 s" in result.facts  # on the card, not only in a notice


def test_a_three_hour_recording_costs_only_max_audio_seconds_and_says_so(tmp_path):
    from llmrec.testing.hostile_media import long_silent_wav

    path = long_silent_wav(tmp_path / "three-hours.wav", 3 * 3600)  # 173 MB, sparse
    result = descriptors_only(max_audio_seconds=30.0).describe_audio(path)
    assert result.error is None
    assert result.facts == ["duration 3 h 0 min", "silent", "described the first 30.0 s of 3 h 0 min"]


def speech_repeated(speech_wav, times: int, gap_s: float = 1.0) -> np.ndarray:
    from llmrec.media.audio import load_audio

    speech = load_audio(speech_wav, 600).samples
    gap = np.zeros(int(gap_s * SAMPLE_RATE), dtype=np.float32)
    return np.concatenate([part for _ in range(times) for part in (speech, gap)])


def test_long_speech_is_transcribed_up_to_max_audio_seconds_and_the_card_says_so(speech_wav, write_wav):
    path = write_wav("talk.wav", speech_repeated(speech_wav, 3))
    result = MediaDescriber(MediaConfig(max_audio_seconds=2.5)).describe_audio(path)
    assert result.text is not None and "dragon" in result.text.lower()
    assert any(f.startswith("transcribed the first 2.5 s of ") for f in result.facts), result.facts
    assert not result.time_limited


LECTURE = ("The dragon flew over the snowy mountains at sunrise. Farmers in the valley counted their sheep twice. "
           "A young mapmaker followed its shadow across the frozen lake. She wrote down every river and every bridge. "
           "By noon the clouds had hidden the highest peaks. The village baker sold bread shaped like wings. "
           "Children argued about whether the dragon was friendly. Nobody noticed the old bell ringing at dusk.")


@pytest.fixture(scope="module")
def lecture_wav(tmp_path_factory) -> Path:
    """Half a minute of varied English speech (espeak-ng; skipped without it): a repeated sentence would be
    dropped by the transcriber's looped-text filter."""
    import shutil
    import subprocess

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("lecture") / "lecture.wav"
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(path), LECTURE], check=True, capture_output=True, timeout=60)
    return path


def test_transcription_stops_at_max_transcribe_seconds_and_is_marked_time_limited(lecture_wav):
    import soundfile

    from llmrec.media.audio import format_duration

    result = MediaDescriber(MediaConfig(max_transcribe_seconds=0.01, audio_descriptors=False)).describe_audio(
        lecture_wav)
    assert result.time_limited and result.error is None
    assert result.text is not None and "dragon" in result.text.lower()  # what was transcribed in time is kept
    assert "ringing" not in result.text.lower()  # the last sentence was never reached
    whole = format_duration(soundfile.info(str(lecture_wav)).duration)
    cut = [f for f in result.facts if f.startswith("transcribed the first ")]
    assert len(cut) == 1 and cut[0].endswith(f" of {whole}"), result.facts
    assert any(n.startswith("transcription stopped by max_transcribe_seconds") for n in result.notices)


def test_transcription_within_the_time_limit_is_complete(lecture_wav):
    result = MediaDescriber(MediaConfig(audio_descriptors=False)).describe_audio(lecture_wav)
    assert not result.time_limited and "ringing" in (result.text or "").lower()
    assert not any(f.startswith("transcribed the first ") for f in result.facts)
