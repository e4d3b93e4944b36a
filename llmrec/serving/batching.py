"""The service's one door to an in-process LLM: concurrent requests' model calls, gathered into batched passes.

The service answers several requests at once in worker threads (retrieval, prompt building and the audit record need
no model), and every call those threads make into the backend goes through ``BatchingBackend``. One model thread runs
the calls, one batch at a time, because an in-process model is not re-entrant and two passes at once would only fight
over the same cores:

- ``option_logprobs`` (the ranking pass): calls that arrive within ``window_s`` of the oldest waiting one go to the
  backend as one call of all their prompts (at most ``max_batch``); each caller gets its own rows back. The backend
  decides how to run them: one padded pass on a GPU, row by row on a CPU, where a long prompt already fills the
  matmuls and padding every row to the longest only adds work. The options of
  the calls are merged (a request with 8 candidates and one with 20 share a pass) and each caller keeps its own columns.
  Calls naming a static ``prefix`` (whose cached keys/values the backend reuses) share a pass with the same prefix only.
- greedy ``complete`` calls (``seed=None``, the first justification attempt) with the same length and stop: one
  batched ``generate``. On a CPU this is where batching pays most: decoding one token costs about the same for one
  row or forty. Seeded completions (retries) run alone, so their samples stay what the seed alone decides.
- any other method of the backend runs alone, in the model thread, after the batch before it; attributes that are
  not its methods (``name``, ``model_id``, ``tokenizer``, the torch module) are the backend's own.

A backend that batches concurrent requests itself (the vLLM server client: ``batches_itself = True``) is not wrapped:
its requests go to the server concurrently and the server batches them.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BATCH_WINDOW_S = 0.015  # how long the oldest waiting call waits for others to join its pass
DEFAULT_MAX_BATCH = 16          # prompts in one pass; 16 clients' rankings fit in one


@dataclass(eq=False)
class _Call:
    """One caller's model call, waiting for the model thread."""

    key: tuple | None                 # calls with the same non-None key may share a pass
    prompts: list[str]
    run_alone: Callable[[], Any] | None = None   # for calls that are never batched
    options: list[str] = field(default_factory=list)
    arrived: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


def batches_itself(backend: Any) -> bool:
    """Whether a backend's concurrent calls should reach it concurrently (it batches them itself)."""
    return bool(getattr(backend, "batches_itself", False))


class BatchingBackend:
    """An ``LLMBackend`` that runs the calls of many threads in one model thread, batching those that can share a
    pass. Attributes that are not methods (``name``, ``model_id``, ``tokenizer``, ...) are the wrapped backend's."""

    def __init__(self, backend: Any, window_s: float = DEFAULT_BATCH_WINDOW_S, max_batch: int = DEFAULT_MAX_BATCH):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.backend = backend
        self.window_s = window_s
        self.max_batch = max_batch
        self.passes = 0          # batched passes run, for tests and metrics
        self.largest_batch = 0
        self._waiting: list[_Call] = []
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None

    # ---- the LLMBackend protocol ------------------------------------------------------------------------------------
    def chat(self, messages: list[dict]) -> str:
        return self.backend.chat(messages)  # a template, no model: no need to wait for the model thread

    def option_logprobs(self, prompts: list[str], options: list[str], prefix: str | None = None
                        ) -> list[list[float]]:
        """``prefix``: the prompts' static start whose keys/values the backend reuses (the ranker passes it); calls
        share a pass only with calls naming the same one, and the backend gets it only when it is given."""
        return self._submit(_Call(("option_logprobs", prefix), list(prompts), options=list(options)))

    def complete(self, prompts: list[str], max_new_tokens: int, stop: str, seed: int | None = None) -> list[str]:
        if seed is not None:
            return self._submit(_Call(None, list(prompts),
                                      run_alone=lambda: self.backend.complete(prompts, max_new_tokens, stop, seed)))
        return self._submit(_Call(("complete", max_new_tokens, stop), list(prompts)))

    def __getattr__(self, name: str) -> Any:
        if name == "backend":  # not set yet (copying, unpickling): no wrapped backend to ask
            raise AttributeError(name)
        attr = getattr(self.backend, name)
        # Only the backend's own methods run in the model thread; objects it holds (the tokenizer, the torch module:
        # callable too) are handed out as they are, so ``backend.tokenizer.encode`` keeps working.
        if not inspect.ismethod(attr) or name.startswith("__"):
            return attr

        def in_model_thread(*args, **kwargs):
            return self._submit(_Call(None, [], run_alone=lambda: attr(*args, **kwargs)))

        return in_model_thread

    # ---- the model thread -------------------------------------------------------------------------------------------
    def _submit(self, call: _Call) -> Any:
        with self._cv:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="llmrec-model", daemon=True)
                self._thread.start()
            self._waiting.append(call)
            self._cv.notify_all()
        call.done.wait()
        if call.error is not None:
            raise call.error
        return call.result

    def _take_batch(self) -> list[_Call]:
        """The next calls to run together (blocking until there is one): the oldest waiting call, and once its window
        has passed, every waiting call with its key, up to ``max_batch`` prompts. Called holding the condition."""
        while not self._waiting:
            self._cv.wait()
        first = self._waiting[0]
        if first.key is None:
            return [self._waiting.pop(0)]

        def mates() -> list[_Call]:
            taken, n = [], 0
            for c in self._waiting:
                if c.key == first.key and (not taken or n + len(c.prompts) <= self.max_batch):
                    taken.append(c)
                    n += len(c.prompts)
            return taken

        while (left := first.arrived + self.window_s - time.monotonic()) > 0 \
                and sum(len(c.prompts) for c in mates()) < self.max_batch:
            self._cv.wait(left)
        batch = mates()
        for c in batch:
            self._waiting.remove(c)
        return batch

    def _serve(self) -> None:
        while True:
            with self._cv:
                batch = self._take_batch()
            try:
                self._run(batch)
            except BaseException as e:  # noqa: BLE001 - every caller must hear of the failure, then the thread goes on
                for c in batch:
                    if not c.done.is_set():
                        c.finish(error=e)

    def _run(self, batch: list[_Call]) -> None:
        first = batch[0]
        if first.run_alone is not None:
            first.finish(first.run_alone())
            return
        prompts = [p for c in batch for p in c.prompts]
        self.passes += 1
        self.largest_batch = max(self.largest_batch, len(prompts))
        if first.key[0] == "option_logprobs":
            merged = list(dict.fromkeys(o for c in batch for o in c.options))
            prefix = first.key[1]
            rows = self.backend.option_logprobs(prompts, merged, **({} if prefix is None else {"prefix": prefix}))
            column = {o: i for i, o in enumerate(merged)}
            for c, part in zip(batch, _split(rows, batch)):
                c.finish([[row[column[o]] for o in c.options] for row in part])
        else:
            _, max_new_tokens, stop = first.key
            texts = self.backend.complete(prompts, max_new_tokens, stop, None)
            for c, part in zip(batch, _split(texts, batch)):
                c.finish(part)


def _split(rows: list, batch: list[_Call]) -> list[list]:
    """``rows`` (one per prompt, in batch order) cut back into each call's share."""
    out, start = [], 0
    for c in batch:
        out.append(rows[start:start + len(c.prompts)])
        start += len(c.prompts)
    return out
