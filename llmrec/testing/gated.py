"""A justifier held at a gate, for tests that must see an answer while its justifications are still unwritten."""

from __future__ import annotations

import threading


class GatedJustifier:
    """Wraps a real ``Justifier``: each ``justify`` call waits for a permit from ``allow`` before it writes."""

    def __init__(self, inner, timeout_s: float = 120.0):
        self.inner = inner
        self.calls = 0
        self.timeout_s = timeout_s
        self._permits = threading.Semaphore(0)

    def allow(self, calls: int = 1) -> None:
        """Let ``calls`` more ``justify`` calls through (waiting ones first)."""
        self._permits.release(calls)

    def justify(self, *args, **kwargs):
        self.calls += 1
        if not self._permits.acquire(timeout=self.timeout_s):
            raise TimeoutError("the test never let this justification be written")
        return self.inner.justify(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def gate_justifier(recommender) -> GatedJustifier:
    """Replace ``recommender``'s justifier by a gated one (its own, wrapped) and return the gate."""
    gated = GatedJustifier(recommender.justifier)
    recommender.__dict__["justifier"] = gated  # the cached_property's slot
    return gated
