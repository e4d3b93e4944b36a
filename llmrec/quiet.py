"""Library noise off at the command line's entry, so ``ask``, ``demo`` and ``serve`` print llmrec's output only.

Without it a first ``ask`` prints transformers' "Loading weights" bar, sentence-transformers' "Batches" bars,
FutureWarnings from libraries about their own next versions and Chroma's telemetry chatter: none of it is something
the person can act on, and it buries the answer. llmrec's own bars (one per long job, ``cli._progress``) and its own
warnings (stale vectors, ...) stay. ``--verbose`` leaves the libraries as they are.

Environment variables are set with ``setdefault`` before the libraries are imported (they are imported lazily), so
a person who set one keeps their value.
"""

from __future__ import annotations

import logging
import os
import warnings

# Libraries whose loggers speak at INFO/WARNING about loading and telemetry; llmrec shows their errors only.
# sentence-transformers draws its "Batches" bar only when its logger is at INFO or DEBUG, so this stops it too.
NOISY_LOGGERS = ("transformers", "sentence_transformers", "chromadb", "huggingface_hub", "torch", "peft",
                 "faster_whisper", "httpx", "urllib3", "filelock", "datasets", "accelerate", "bitsandbytes", "kernels")
_QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",   # transformers' "Loading weights" and hub bars
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "PYTHONWARNINGS": "ignore::FutureWarning,ignore::DeprecationWarning",  # worker subprocesses too
}


def quiet_libraries(verbose: bool = False) -> None:
    """Silence third-party progress bars, INFO logs and FutureWarnings unless ``verbose``."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        return
    for name, value in _QUIET_ENV.items():
        os.environ.setdefault(name, value)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # Warnings libraries raise about their own next versions; llmrec's own (UserWarning) still show.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
