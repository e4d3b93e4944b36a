"""The LLM as a constrained chooser for what the rules could not read: "something spooky" → genre Horror?

The model sees the request and one facet's values as lettered options, plus "none", and llmrec reads every letter's
logprob in one forward pass, exactly as the ranker scores candidates: it can only choose a value the catalog has.
It is consulted only when the rules left content words unread and no condition on that facet, and a choice counts
only when it beats "none" and reaches ``threshold`` probability. Off by default (``[request] llm_chooser``): the
request benchmark (``llmrec eval --requests``) measures whether it helps with the configured model.
"""

from __future__ import annotations

import math

from llmrec.prompts import PromptLibrary
from llmrec.ranking.ranker import LETTERS
from llmrec.request.conditions import Condition, RequestInterpretation
from llmrec.request.facets import CatalogFacets

TEMPLATE = "request_choice.j2"
NONE = "none of these"


class FacetChooser:
    def __init__(self, backend, library: PromptLibrary, facets: CatalogFacets, threshold: float = 0.6):
        self.backend = backend
        self.library = library.with_chat(backend.chat)
        self.facets = facets
        self.threshold = threshold

    def _facets(self) -> list:
        """The hard categorical facets small enough to letter (at most 51 values besides "none")."""
        return [f for f in self.facets.of_type("categorical") if f.hard and 1 < len(f.values) < len(LETTERS)]

    def choose(self, interpretation: RequestInterpretation) -> list[Condition]:
        """Conditions the model adds (``source="llm"``); none when the rules already read everything."""
        if not interpretation.about:
            return []
        taken = {c.facet for c in interpretation.conditions}
        added = []
        for facet in self._facets():
            if facet.name in taken:
                continue
            values = [NONE, *facet.values]
            options = [{"letter": LETTERS[i], "value": v} for i, v in enumerate(values)]
            prompt = self.library.render(TEMPLATE, request=interpretation.text, facet=facet.name.replace("_", " "),
                                         options=options).text
            logprobs = self.backend.option_logprobs([prompt], [" " + o["letter"] for o in options])[0]
            top = max(logprobs)
            probs = [math.exp(lp - top) for lp in logprobs]
            total = sum(probs)
            best = max(range(len(values)), key=lambda i: probs[i])
            if best and probs[best] / total >= self.threshold:
                added.append(Condition(facet=facet.name, fields=[facet.name], type="categorical",
                                       values=[values[best]], text=" ".join(interpretation.about), source="llm"))
        return added
