"""The contract every LLM backend implements, and the registry that config picks backends from by name.

Two operations are all the pipeline needs: the logprob of each option token at the position after a prompt (ranking
in one forward pass), and short greedy-or-seeded completions (justifications).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from llmrec.config import RankerConfig
from llmrec.errors import ConfigError


class LLMBackend(Protocol):
    name: str
    model_id: str
    adapter_id: str | None

    def chat(self, messages: list[dict]) -> str:
        """Format chat messages with the model's own template, ending where the assistant starts to speak."""

    def option_logprobs(self, prompts: list[str], options: list[str], prefix: str | None = None
                        ) -> list[list[float]]:
        """For each prompt, the log-probability of each option string's first token as the next token.

        ``prefix``: text every prompt starts with that is the same across requests (a template's static head); a
        backend may compute it once and reuse it, never changing the scores beyond float rounding."""

    def complete(self, prompts: list[str], max_new_tokens: int, stop: str, seed: int | None = None) -> list[str]:
        """Continue each prompt; greedy when ``seed`` is None, else sampled reproducibly. Text is cut as
        ``cut_at_stop`` cuts it; a text that never stopped ends with "…"."""


def cut_at_stop(text: str, stop: str) -> tuple[str, bool]:
    """``text`` up to the first ``stop`` or newline, and whether one was found.

    A stop of ``"`` closes a JSON string, so an escaped quote (``\\"``: odd run of backslashes before it) is part
    of the text, not the end: a justification that quotes a title must not be cut at the title's opening quote.
    """
    ends = [text.find("\n")] if "\n" in text else []
    if stop == '"':
        for match in re.finditer(r'(\\*)"', text):
            if len(match.group(1)) % 2 == 0:
                ends.append(match.end() - 1)
                break
    elif stop in text:
        ends.append(text.find(stop))
    return (text[:min(ends)], True) if ends else (text, False)


_BACKENDS: dict[str, Callable[[RankerConfig, Path | None], LLMBackend]] = {}


def register_backend(name: str):
    def decorate(factory):
        _BACKENDS[name] = factory
        return factory
    return decorate


def backend_names() -> list[str]:
    """The registered backend names, for checking a configured one before anything loads."""
    from llmrec.ranking import backends  # noqa: F401  (registers the built-in backends)

    return sorted(_BACKENDS)


def open_backend(config: RankerConfig, adapter: Path | None = None, name: str | None = None) -> LLMBackend:
    from llmrec.ranking import backends  # noqa: F401  (registers the built-in backends)

    name = name or config.backend
    if name not in _BACKENDS:
        raise ConfigError(f"unknown ranker backend {name!r}; known: {', '.join(sorted(_BACKENDS))}")
    return _BACKENDS[name](config, adapter)
