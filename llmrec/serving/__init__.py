"""Serving: the HTTP service and web page (``llmrec serve``, app.py), and the vLLM OpenAI-compatible server that the
``vllm`` ranking backend talks to.

The service's default limits live here, free of FastAPI, so ``llmrec --help`` works on installs without the
``serve`` extra.
"""

DEFAULT_MAX_BODY_BYTES = 1_000_000  # largest request body (413 above it)
DEFAULT_REQUEST_TIMEOUT_S = 60.0    # seconds a request may wait for the model, queue included (504 past it)
