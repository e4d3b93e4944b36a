"""Test helper: the vLLM virtualenv the vllm-marked tests need, or a skip (a failure in CI, which must run them)."""

from __future__ import annotations

import os
from pathlib import Path

from llmrec.serving.vllm_venv import vllm_venv_path, vllm_venv_ready


def require_vllm_venv() -> Path:
    """The built vLLM venv; skips the test without one, except under CI where a missing venv is a failure."""
    import pytest

    path = vllm_venv_path()
    if vllm_venv_ready(path):
        return path
    reason = (f"no vLLM virtualenv at {path} (set LLMREC_VLLM_VENV or build it: `make vllm-env`)")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + "; CI must run the vLLM tests")
    pytest.skip(reason)
