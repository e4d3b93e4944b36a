"""vLLM backend: the same two operations as the transformers backend, served by vLLM's OpenAI-compatible server.

Plain HTTP (httpx), no vLLM import: the server runs in its own virtualenv (``llmrec llm serve``).

- **Ranking** is one ``/v1/completions`` request per batch of prompts with ``max_tokens=1`` and vLLM's
  ``logprob_token_ids``: the server returns the full-vocabulary log-softmax of exactly the option tokens at the next
  position (not a top-k that may miss some), so scores are the same quantity the transformers backend computes.
- **Prompts** are rendered with the model's own chat template by the local tokenizer and sent as token ids, so the
  server scores byte-identical inputs.
- **Justifications** are constrained by vLLM structured outputs, so invalid output cannot occur (no retry for
  form). The justifier's prompt ends in a JSON frame that fixes the item id (``{"item_id": "<id>",
  "justification": "``); ``complete`` continues it under a regex that admits only a JSON string body and its closing
  quote, so frame + output is always valid under ``justification_schema``. Decoding the whole object against that
  schema instead (``complete_json``; ``item_id`` an enum of the returned items) was measured too: with the frame
  generated rather than in the prompt, SmolLM2-135M wrote fragments ("True", "townthe(&#36;") where the forced
  frame gives sentences, so ``complete_json`` is offered for callers that want whole objects, not used by default.
- **Adapters** are addressed by their versioned served name ``NAME@<sha256(adapter_model.safetensors)>[:8]``; the
  server must have been started with that version (``--adapter``), else opening fails with ``BackendUnavailable``.
- **Fallback:** with ``ranker.fallback_backend`` set, an unreachable server, unknown model/adapter or a timeout
  switches this backend for good to the fallback (opened with ``open_backend(name=...)``); ``name`` then reads
  ``"<fallback> (fallback from vllm)"``, which is what a Recommendation's ``backend`` field records, and
  ``fallback_reason`` says why.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from llmrec.config import RankerConfig
from llmrec.errors import BackendUnavailable, RequestError
from llmrec.llm.registry import model_id, resolve_model
from llmrec.ranking.backends.base import LLMBackend, cut_at_stop, open_backend, register_backend

DEFAULT_URL = "http://127.0.0.1:8100"
# The body of a JSON string on one line: what may follow the forced `"justification": "` prefix.
_JSON_STRING_BODY = r'([^"\\\n\r]|\\["\\/bfnrt])*'


def justification_schema(item_ids: list[str], max_chars: int = 400) -> dict:
    """A JSON schema for one justification whose ``item_id`` can only be one of ``item_ids``."""
    return {
        "type": "object",
        "properties": {
            "item_id": {"type": "string", "enum": list(item_ids)},
            "justification": {"type": "string", "minLength": 1, "maxLength": max_chars},
        },
        "required": ["item_id", "justification"],
        "additionalProperties": False,
    }


class VLLMBackend:
    """Client of a running vLLM OpenAI-compatible server (see ``llmrec.serving.vllm_server``)."""

    name = "vllm"

    def __init__(self, config: RankerConfig, adapter: Path | None = None):
        import httpx

        self.config = config
        self.url = (config.vllm_url or _running_server_url() or DEFAULT_URL).rstrip("/")
        self.model_id = model_id(config.model)
        self.adapter_id: str | None = None
        # The server's dtype was fixed when it started (``llmrec llm serve --dtype``); this client cannot see it.
        self.dtype: str | None = None
        self.fallback_used = False
        self.fallback_reason: str | None = None
        self._fallback: LLMBackend | None = None
        self._adapter = Path(adapter) if adapter is not None else None
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=self.url, timeout=config.vllm_timeout_s)
        self._httpx = httpx
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(resolve_model(config.model)), local_files_only=True)
        try:
            self.served_name = self._check_served(adapter)
        except BackendUnavailable as e:
            self._fall_back(e)
            return
        self.adapter_id = self.served_name if adapter is not None else None

    @property
    def batches_itself(self) -> bool:
        """Concurrent requests go to the server concurrently (httpx.Client is thread-safe, no lock is held around a
        request) and vLLM batches them, so the HTTP service must not serialise them (llmrec.serving.batching); once
        fallen back to an in-process backend, they must be."""
        return self._fallback is None

    # -- connection and fallback -------------------------------------------------------------------------------

    def _check_served(self, adapter: Path | None) -> str:
        """The model name to request: the base model's served name, or the served name of this adapter version."""
        served = [m["id"] for m in self._request("GET", "/v1/models")["data"]]
        # The base model must match even when an adapter is asked for: prompts are tokenized here with the local
        # tokenizer, and an adapter file served on top of another base would score nonsense.
        if self.model_id not in served:
            raise BackendUnavailable(f"the vLLM server at {self.url} serves {served}, not {self.model_id!r}; "
                                     f"start it with `llmrec llm serve --model {self.config.model}`")
        if adapter is None:
            return self.model_id
        from llmrec.serving.vllm_server import lora_name

        wanted = lora_name(adapter)
        version = wanted.rsplit("@", 1)[1]
        # Same weights under another name (``--adapter other=PATH``) are the same adapter version.
        match = [s for s in served if s == wanted] or [s for s in served if s.endswith("@" + version)]
        if not match:
            raise BackendUnavailable(
                f"the vLLM server at {self.url} does not serve adapter {wanted!r} (it serves {served}); restart it "
                f"with `llmrec llm serve --adapter {adapter.name}={adapter}`")
        return match[0]

    def _fall_back(self, error: BackendUnavailable) -> None:
        if not self.config.fallback_backend or self.config.fallback_backend == "vllm":
            raise error
        with self._lock:
            if self._fallback is None:
                self._fallback = open_backend(self.config, self._adapter, name=self.config.fallback_backend)
                self.fallback_used = True
                self.fallback_reason = str(error)
                self.name = f"{self._fallback.name} (fallback from vllm)"
                self.model_id = self._fallback.model_id
                self.adapter_id = self._fallback.adapter_id
                self.dtype = getattr(self._fallback, "dtype", None)

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        httpx = self._httpx
        try:
            r = self._http.request(method, path, json=body)
        except httpx.TimeoutException:
            raise BackendUnavailable(f"the vLLM server at {self.url} did not answer {path} within "
                                     f"{self.config.vllm_timeout_s:g} s (ranker.vllm_timeout_s)") from None
        except httpx.TransportError as e:
            raise BackendUnavailable(f"the vLLM server at {self.url} is not reachable ({type(e).__name__}: {e}); "
                                     "start it with `llmrec llm serve` or set ranker.vllm_url") from None
        if r.status_code == 404:
            raise BackendUnavailable(f"the vLLM server at {self.url} answered 404 for {path}: {_error_text(r)} "
                                     "(unknown model or adapter name?)")
        if r.status_code in (400, 413, 422):
            # The request itself is wrong (e.g. a prompt longer than the server's --max-model-len): the server is
            # fine, so this must neither switch to the fallback nor make the service answer 503.
            raise RequestError(f"the vLLM server at {self.url} refused the request to {path} "
                               f"({r.status_code}): {_error_text(r)}")
        if r.status_code >= 400:
            raise BackendUnavailable(f"the vLLM server at {self.url} answered {r.status_code} for {path}: "
                                     f"{_error_text(r)}")
        return r.json()

    def _call(self, method: str, *args):
        """Run a request-level method, switching to the fallback backend when vLLM is unavailable."""
        if self._fallback is None:
            try:
                return getattr(self, "_vllm_" + method)(*args)
            except BackendUnavailable as e:
                self._fall_back(e)
        return getattr(self._fallback, method)(*args)

    # -- the LLMBackend protocol -------------------------------------------------------------------------------

    def chat(self, messages: list[dict]) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        from llmrec.prompts import plain_chat

        return plain_chat(messages)

    def option_token_ids(self, options: list[str]) -> list[int]:
        return [self.tokenizer.encode(o, add_special_tokens=False)[0] for o in options]

    def _encode(self, prompts: list[str]) -> list[list[int]]:
        # The transformers backend tokenizes without special tokens; sending ids keeps the inputs identical.
        return [self.tokenizer.encode(p, add_special_tokens=False) for p in prompts]

    def option_logprobs(self, prompts: list[str], options: list[str], prefix: str | None = None
                        ) -> list[list[float]]:
        return self._call("option_logprobs", prompts, options, prefix)

    def _vllm_option_logprobs(self, prompts: list[str], options: list[str], prefix: str | None = None
                              ) -> list[list[float]]:
        # ``prefix`` needs nothing here: the server's automatic prefix caching (``--enable-prefix-caching``) reuses
        # the blocks of any shared head of the token ids it is sent.
        ids = self.option_token_ids(options)
        unique = sorted(set(ids))
        body = {"model": self.served_name, "prompt": self._encode(prompts), "max_tokens": 1, "temperature": 0.0,
                "logprobs": 1, "logprob_token_ids": unique, "return_tokens_as_token_ids": True}
        out = self._request("POST", "/v1/completions", body)
        choices = sorted(out["choices"], key=lambda c: c["index"])
        result = []
        for choice in choices:
            top = choice["logprobs"]["top_logprobs"][0]  # {"token_id:123": logprob, ...} at the one position
            by_id = {int(k.rsplit(":", 1)[1]): v for k, v in top.items()}
            missing = [i for i in unique if i not in by_id]
            if missing:
                raise BackendUnavailable(f"the vLLM server at {self.url} returned no logprob for token ids "
                                         f"{missing}; it needs vLLM ≥ 0.32 (logprob_token_ids)")
            result.append([max(float(by_id[i]), -1e30) for i in ids])  # -inf arrives as a very large negative
        return result

    def complete(self, prompts: list[str], max_new_tokens: int, stop: str, seed: int | None = None) -> list[str]:
        return self._call("complete", prompts, max_new_tokens, stop, seed)

    def _sampling(self, max_new_tokens: int, seed: int | None) -> dict:
        # frequency_penalty counts only the generated tokens; repetition_penalty also counts the prompt's, and a
        # justification must copy its reasons' names and values exactly (as the transformers backend does).
        body = {"max_tokens": max_new_tokens, "frequency_penalty": 0.3}
        if seed is None:
            body["temperature"] = 0.0
        else:
            body.update(temperature=0.7, top_p=0.9, seed=seed)
        return body

    def _vllm_complete(self, prompts: list[str], max_new_tokens: int, stop: str,
                       seed: int | None = None) -> list[str]:
        body = {"model": self.served_name, "prompt": self._encode(prompts), **self._sampling(max_new_tokens, seed),
                "stop": [stop, "\n"], "include_stop_str_in_output": True}
        if stop == '"':
            # The justifier's prompt ends inside a JSON string whose item id it fixed: only a string body and its
            # closing quote may follow, so frame + output is always an object valid under justification_schema.
            # The grammar ends generation at the closing quote; a '"' stop string would also fire on an escaped one.
            body["structured_outputs"] = {"regex": _JSON_STRING_BODY + '"'}
            body["stop"] = ["\n"]
        out = self._request("POST", "/v1/completions", body)
        texts = []
        for choice in sorted(out["choices"], key=lambda c: c["index"]):
            text, stopped = cut_at_stop(choice["text"], stop)
            stopped = stopped or choice.get("finish_reason") == "stop"
            texts.append(text if stopped else text + "\u2026")
        return texts

    def complete_json(self, prompts: list[str], schema: dict, max_new_tokens: int = 120,
                      seed: int | None = None) -> list[dict]:
        """Decode one JSON object per prompt, constrained to ``schema`` (invalid output cannot be produced).

        An object cut off by ``max_new_tokens`` raises ``ValueError``; raise the limit rather than retry.
        """
        if self._fallback is not None:
            raise BackendUnavailable(f"structured JSON decoding needs vLLM; using {self.name}: {self.fallback_reason}")
        body = {"model": self.served_name, "prompt": self._encode(prompts), **self._sampling(max_new_tokens, seed),
                "structured_outputs": {"json": schema, "disable_any_whitespace": True}}
        out = self._request("POST", "/v1/completions", body)
        results = []
        for choice in sorted(out["choices"], key=lambda c: c["index"]):
            if choice.get("finish_reason") == "length":
                raise ValueError(f"JSON output cut at max_new_tokens={max_new_tokens}: {choice['text']!r}")
            results.append(json.loads(choice["text"]))
        return results

    def close(self) -> None:
        self._http.close()


def _error_text(response) -> str:
    try:
        data = response.json()
        msg = data.get("error", data).get("message") if isinstance(data.get("error", data), dict) else data
        return re.sub(r"\s+", " ", str(msg or data))[:300]
    except ValueError:
        return response.text[:300]


def _running_server_url() -> str | None:
    """The URL of a server started by ``llmrec llm serve`` on this machine, if exactly one is running."""
    from llmrec.serving.vllm_server import running_servers

    servers = running_servers()
    return servers[0]["url"] if len(servers) == 1 else None


register_backend("vllm")(VLLMBackend)
