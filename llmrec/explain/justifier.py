"""Grounded justifications for the returned items: reasons first, then words.

For each item llmrec gathers typed reasons (``gather``: what of the request it answers and where its card or media
say so, what it shares with the user's enjoyed items, who else chose it, what sets it apart) and keeps the best one or
two (``scoring``). The LLM then writes one sentence from those reasons only, not from the whole card, inside a JSON
frame llmrec forces (the item id is fixed in the prompt and JSON-escaped, so the frame stays valid for any id; the
recorded id is the item's own). The k items are generated as one batch. Each sentence is checked by the claim engine
the audit runs plus the justifier's policy (``acceptance``), and must state one of its reasons; a failing one is
retried once with seeded sampling, then replaced by the template sentence of the same reasons (``realise``),
marked ``generated: false``. Either way the evidence list names exactly the reasons the sentence states.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence

from pydantic import BaseModel, Field

from llmrec.claims import Catalog, Grounds
from llmrec.config import AuditConfig, JustificationConfig
from llmrec.explain.acceptance import JustificationChecks, Problem
from llmrec.explain.context import CoOccurrence, JustificationContext
from llmrec.explain.gather import candidate_reasons
from llmrec.explain.realise import Realiser, evidence_of, stated
from llmrec.explain.reasons import Reason
from llmrec.explain.scoring import choose
from llmrec.prompts import PromptLibrary
from llmrec.ranking.backends.base import LLMBackend
from llmrec.request.conditions import RequestInterpretation
from llmrec.request.facets import CatalogFacets
from llmrec.workspace import StoredItem

JUSTIFICATION_TEMPLATE = "justification.j2"


class Justification(BaseModel):
    item_id: str
    justification: str
    evidence: list[str] = Field(default_factory=list)
    generated: bool = True
    problems: list[str] = Field(default_factory=list, description="why generated attempts were rejected: "
                                "'attempt <n>: <rule>: <why>'")
    reasons: list[Reason] = Field(default_factory=list, description="the reasons the sentence states")


def _finish(text: str) -> str:
    """Tidy a generated sentence: trim a cut-off tail to the last full stop, else to the last whole clause (a
    sentence that ends "…, which…" reads as broken), unescape, strip.

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
        clause = max(body.rfind(", "), body.rfind("; "), body.rfind(": "))
        if cut > 20:
            text = body[: cut + 1]
        elif clause > 20:
            text = body[:clause] + "."
        else:
            text = body.rstrip(",;: ") + "…"
    return text


def opening(prompt: str) -> str:
    """What the prompt already wrote of the sentence (the template opens it with the item's title, JSON-escaped):
    the text after the frame's last ``"justification": "``, which the model's continuation completes."""
    head, sep, tail = prompt.rpartition('"justification": "')
    return tail if sep else ""


class Justifier:
    def __init__(self, backend: LLMBackend | None, library: PromptLibrary, config: JustificationConfig,
                 audit: AuditConfig | None = None):
        """``audit``: the audit's settings; a sentence is shown only if the audit, so configured, would pass it.
        ``backend`` may be None when ``config.enabled`` is false (template sentences only)."""
        self.backend = backend
        self.library = library.with_chat(backend.chat) if backend is not None else library
        self.config = config
        self.checks = JustificationChecks(config, audit)
        self.realiser = Realiser(library, self.checks)

    # ---- reasons ------------------------------------------------------------------------------------------------
    @staticmethod
    def context(query: str | None, items: Sequence[StoredItem], candidates: Sequence[StoredItem],
                history: Sequence[StoredItem], interpretation: RequestInterpretation | None = None,
                ratings: Mapping[str, float] | None = None, facets: CatalogFacets | None = None,
                values: Mapping[str, Mapping] | None = None, cooccurrence: CoOccurrence | None = None,
                collaborative: Iterable[str] = ()) -> JustificationContext:
        """What every item's reasons draw on in one request (see ``JustificationContext``)."""
        return JustificationContext(query=query or "", items=list(items), candidates=list(candidates),
                                    history=list(history), interpretation=interpretation, ratings=dict(ratings or {}),
                                    facets=facets, values=values, cooccurrence=cooccurrence,
                                    collaborative=frozenset(collaborative))

    def reasons(self, ctx: JustificationContext, item: StoredItem) -> list[Reason]:
        """The reasons a justification of ``item`` states: the best one or two of its candidate reasons."""
        return choose(candidate_reasons(item, ctx), self.config.max_reasons)

    def prompt(self, query: str | None, item: StoredItem, history: list[StoredItem],
               reasons: Sequence[Reason] | None = None) -> str:
        """The generation prompt: the request, the history titles and the item's reasons, each as the template
        states it (computed here when not given)."""
        if reasons is None:
            reasons = self.reasons(self.context(query, [item], [item], history), item)
        lines = [self.realiser.sentence([r]) for r in reasons]
        return self.library.render(JUSTIFICATION_TEMPLATE, query=query or "", item_id=item.id, title=item.title,
                                   reasons=lines, history=[{"title": h.title} for h in history[-5:]]).text

    # ---- sentences ----------------------------------------------------------------------------------------------
    def justify(self, query: str | None, items: list[StoredItem], candidates: list[StoredItem],
                history: list[StoredItem], seed: int = 0, catalog_titles: Iterable[str] = (),
                catalog: Catalog | None = None, **signals) -> list[Justification]:
        """One sentence per item; ``catalog_titles`` (every title in the catalog) lets the checks reject a sentence
        that names an item that is neither this one nor in the history, not just another candidate. ``catalog``,
        when given, is the audit's own (titles by id and the catalog's genre words), and replaces the titles.
        ``signals``: the rest of ``context``'s arguments (interpretation, ratings, facets, values, cooccurrence,
        collaborative)."""
        ctx = self.context(query, items, candidates, history, **signals)
        return list(self.iter_justify(ctx, seed, catalog_titles, catalog))

    def iter_justify(self, ctx: JustificationContext, seed: int = 0, catalog_titles: Iterable[str] = (),
                     catalog: Catalog | None = None) -> Iterator[Justification]:
        """The justifications of ``ctx.items`` in order, each as soon as it is ready (template sentences at once,
        generated ones when their batch is done)."""
        if not ctx.items:
            return
        known = self.checks.catalog([*ctx.items, *ctx.candidates, *ctx.history], catalog_titles, catalog)
        yield from self._run(ctx, ctx.items, seed, known)

    def justify_one(self, ctx: JustificationContext, item: StoredItem, seed: int = 0,
                    catalog_titles: Iterable[str] = (), catalog: Catalog | None = None) -> Justification:
        """One item's justification (for filling a streamed list in item by item)."""
        known = self.checks.catalog([item, *ctx.candidates, *ctx.history], catalog_titles, catalog)
        return next(self._run(ctx, [item], seed, known))

    def _run(self, ctx: JustificationContext, items: Sequence[StoredItem], seed: int, known: Catalog
             ) -> Iterator[Justification]:
        plans = {it.id: self.reasons(ctx, it) for it in items}
        grounds = {it.id: Grounds.from_items(it, ctx.history, ctx.candidates, ctx.query) for it in items}
        if not self.config.enabled or self.backend is None:
            for it in items:
                yield self._template(it, plans[it.id], grounds[it.id], known, [])
            return
        results: dict[str, Justification] = {}
        problems: dict[str, list[str]] = {it.id: [] for it in items}
        pending = [it for it in items if plans[it.id]]  # nothing to say: the template's last resort, not the LLM
        for attempt in range(1 + self.config.retries):
            if not pending:
                break
            prompts = [self.prompt(ctx.query, it, ctx.history, plans[it.id]) for it in pending]
            texts = self.backend.complete(prompts, self.config.max_new_tokens, stop='"',
                                          seed=None if attempt == 0 else seed + attempt)
            still = []
            for it, prompt, raw in zip(pending, prompts, texts):
                text = _finish(opening(prompt) + raw)
                verdict, found = self.checks.problems(text, grounds[it.id], known)
                used = stated(text, plans[it.id], verdict)
                if not used and not found:
                    found = [Problem("states-no-reason", "states none of the reasons it was given")]
                if found:
                    problems[it.id].extend(f"attempt {attempt + 1}: {p.rule}: {p}" for p in found)
                    still.append(it)
                else:
                    results[it.id] = Justification(item_id=it.id, justification=text, evidence=evidence_of(used),
                                                   generated=True, reasons=used)
            pending = still
        for it in items:
            yield results.get(it.id) or self._template(it, plans[it.id], grounds[it.id], known, problems[it.id])

    def _template(self, item: StoredItem, reasons: list[Reason], grounds: Grounds, known: Catalog,
                  problems: list[str]) -> Justification:
        text, used, _ = self.realiser.realise(reasons, grounds, known)
        return Justification(item_id=item.id, justification=text, evidence=evidence_of(used), generated=False,
                             problems=problems, reasons=used)
