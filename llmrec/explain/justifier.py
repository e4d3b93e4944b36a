"""Grounded justifications for the returned items.

The LLM writes one sentence per item inside a JSON frame that llmrec forces (the item id is fixed in the prompt, so
it can only talk about the item it was given; it is JSON-escaped there, so the frame stays valid for any id, and the
recorded id is the item's own, never read back from the output). Each sentence is checked by the claim engine the
audit runs, plus the justifier's stricter policy (``acceptance``); a failing one is retried once with seeded sampling,
then replaced by a sentence built from card facts and marked ``generated: false``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from pydantic import BaseModel, Field

from llmrec.catalog.cards import card_fields
from llmrec.claims import Catalog, Grounds
from llmrec.claims.text import content_terms, stem
from llmrec.config import AuditConfig, JustificationConfig
from llmrec.explain.acceptance import JustificationChecks, evidence
from llmrec.prompts import PromptLibrary, clean
from llmrec.ranking.backends.base import LLMBackend
from llmrec.workspace import StoredItem

JUSTIFICATION_TEMPLATE = "justification.j2"
_FALLBACK_FIELDS = ("genres", "kind", "description", "plot", "tags", "year")


class Justification(BaseModel):
    item_id: str
    justification: str
    evidence: list[str] = Field(default_factory=list)
    generated: bool = True
    problems: list[str] = Field(default_factory=list, description="why generated attempts were rejected: "
                                "'attempt <n>: <rule>: <why>'")


def _first_sentence(text: str, limit: int = 160) -> str:
    s = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    return s if len(s) <= limit else s[: limit - 1].rsplit(" ", 1)[0] + "…"


def _finish(text: str) -> str:
    """Tidy a generated sentence: trim a cut-off tail to the last full stop, unescape, strip.

    The model wrote the body of a JSON string, so ``\\"`` and ``\\\\`` are its quote and backslash.
    """
    try:
        text = json.loads(f'"{text}"')
    except json.JSONDecodeError:  # cut mid-escape or a raw control character: keep the text, unescape quotes
        text = text.replace('\\"', '"')
    text = " ".join(text.split())  # a decoded newline or tab has no place in a one-line sentence
    if text.endswith("\u2026"):
        body = text[:-1]
        cut = max(body.rfind(". "), body.rfind("! "), body.rfind("? "))
        text = body[: cut + 1] if cut > 20 else body.rstrip(",;: ") + "…"
    return text


def fallback_justification(query: str | None, item: StoredItem, history: list[StoredItem]) -> Justification:
    """A sentence made only of card facts: always true, never generated."""
    fields = card_fields(item.card)
    fields.pop("title", None)
    qwords = _stems(query or "")
    # Prefer the fields that match the request (that is what the person asked about), then the usual descriptors.
    ranked = sorted(fields, key=lambda f: (-len(qwords & _stems(fields[f])),
                                           _FALLBACK_FIELDS.index(f) if f in _FALLBACK_FIELDS else 99))
    chosen = [f for f in ranked if fields[f]][:2]
    parts = [f"{name.capitalize()}: {_first_sentence(fields[name])}" for name in chosen]
    text = f"{item.title} — " + "; ".join(parts) if parts else item.title
    evidence = [f"card:{name}" for name in chosen]
    return Justification(item_id=item.id, justification=clean(text, limit=400), evidence=evidence, generated=False)


def _stems(text: str) -> set[str]:
    return {stem(w) for w in content_terms(text)}


class Justifier:
    def __init__(self, backend: LLMBackend, library: PromptLibrary, config: JustificationConfig,
                 audit: AuditConfig | None = None):
        """``audit``: the audit's settings; a sentence is shown only if the audit, so configured, would pass it."""
        self.backend = backend
        self.library = library.with_chat(backend.chat)
        self.config = config
        self.checks = JustificationChecks(config, audit)

    def prompt(self, query: str | None, item: StoredItem, history: list[StoredItem]) -> str:
        return self.library.render(JUSTIFICATION_TEMPLATE, query=query or "", item_id=item.id, title=item.title,
                                   card=item.card, history=[{"title": h.title} for h in history[-5:]]).text

    def justify(self, query: str | None, items: list[StoredItem], candidates: list[StoredItem],
                history: list[StoredItem], seed: int = 0, catalog_titles: Iterable[str] = (),
                catalog: Catalog | None = None) -> list[Justification]:
        """One sentence per item; ``catalog_titles`` (every title in the catalog) lets the checks reject a sentence
        that names an item that is neither this one nor in the history, not just another candidate. ``catalog``,
        when given, is the audit's own (titles by id and the catalog's genre words), and replaces the titles."""
        if not items:
            return []
        if not self.config.enabled:
            return [fallback_justification(query, it, history) for it in items]
        known = self.checks.catalog([*items, *candidates, *history], catalog_titles, catalog)
        results: dict[str, Justification] = {}
        problems: dict[str, list[str]] = {it.id: [] for it in items}
        pending = list(items)
        for attempt in range(1 + self.config.retries):
            prompts = [self.prompt(query, it, history) for it in pending]
            texts = self.backend.complete(prompts, self.config.max_new_tokens, stop='"',
                                          seed=None if attempt == 0 else seed + attempt)
            still = []
            for it, raw in zip(pending, texts):
                text = _finish(raw)
                grounds = Grounds.from_items(it, history, candidates, query or "")
                verdict, found = self.checks.problems(text, grounds, known)
                if found:
                    problems[it.id].extend(f"attempt {attempt + 1}: {p.rule}: {p}" for p in found)
                    still.append(it)
                else:
                    results[it.id] = Justification(item_id=it.id, justification=text, evidence=evidence(verdict),
                                                   generated=True)
            pending = still
            if not pending:
                break
        for it in pending:
            fb = fallback_justification(query, it, history)
            fb.problems = problems[it.id]
            results[it.id] = fb
        return [results[it.id] for it in items]
