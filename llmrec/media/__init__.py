"""Media -> text: images and audio become facts, OCR text or transcripts, tags and captions for item cards.

Importing this package is cheap: torch, open_clip, transformers, faster-whisper, librosa and RapidOCR are imported
only when a describer first needs them.
"""

from llmrec.media.describer import MEDIA_VERSION, MediaDescriber, MediaText, file_sha256
from llmrec.media.files import MediaFile, allowed_roots, open_confined, open_regular

__all__ = ["MEDIA_VERSION", "MediaDescriber", "MediaFile", "MediaText", "allowed_roots", "file_sha256",
           "open_confined", "open_regular"]
