"""Rank candidates by the LLM's probability of naming each one, in a single forward pass.

The prompt lists candidates as lettered options in a seeded shuffled order (so position bias averages out across
requests and any order can be replayed from the record); the score of a candidate is the logprob of its letter as
the next token (LlamaRec's verbalizer). Output can only be candidates: there is nothing to parse.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from dataclasses import dataclass

from llmrec.cards import card_summary
from llmrec.config import RankerConfig
from llmrec.prompts import PromptLibrary, RenderedPrompt
from llmrec.ranking.backends.base import LLMBackend
from llmrec.workspace import StoredItem

RANKING_TEMPLATE = "ranking.j2"
# One single-token label per candidate; " A" is one token in BPE vocabularies the letter alone is not always.
LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)] + [chr(c) for c in range(ord("a"), ord("z") + 1)]


@dataclass
class RankingResult:
    ranked: list[str]                 # item ids, best first
    scores: dict[str, float]          # item id -> final score (letter logprob + retrieval prior)
    logprobs: dict[str, float]        # item id -> letter logprob alone
    shown: list[tuple[str, str]]      # (letter, item id) in the order the prompt listed them
    prompt: RenderedPrompt
    seconds: float


def request_seed(seed: int, *parts: str) -> int:
    """A per-request seed: the same request and config always shuffle the same way."""
    h = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(h[:8], "big")


class LLMRanker:
    def __init__(self, backend: LLMBackend, library: PromptLibrary, config: RankerConfig):
        self.backend = backend
        self.library = library.with_chat(backend.chat)
        self.config = config

    def build_prompt(self, query: str | None, history: list[StoredItem],
                     candidates: list[StoredItem]) -> tuple[RenderedPrompt, list[tuple[str, str]]]:
        if len(candidates) > len(LETTERS):
            raise ValueError(f"at most {len(LETTERS)} candidates can be ranked in one pass, got {len(candidates)}")
        order = list(candidates)
        random.Random(request_seed(self.config.seed, query or "", *[c.id for c in candidates])).shuffle(order)
        options = [{"letter": LETTERS[i], "title": c.title, "summary": card_summary(c.card, self.config.card_chars_in_prompt)}
                   for i, c in enumerate(order)]
        hist = [{"title": h.title} for h in history[-self.config.history_in_prompt:]] if self.config.history_in_prompt else []
        prompt = self.library.render(RANKING_TEMPLATE, query=query or "", history=hist, options=options)
        return prompt, [(LETTERS[i], c.id) for i, c in enumerate(order)]

    def rank(self, query: str | None, history: list[StoredItem], candidates: list[StoredItem]) -> RankingResult:
        t0 = time.perf_counter()
        if not candidates:
            prompt = RenderedPrompt("", RANKING_TEMPLATE, "")
            return RankingResult([], {}, {}, [], prompt, 0.0)
        prompt, shown = self.build_prompt(query, history, candidates)
        logprobs = self.backend.option_logprobs([prompt.text], [" " + letter for letter, _ in shown])[0]
        letter_lp = {item_id: lp for (_, item_id), lp in zip(shown, logprobs)}
        retrieval_rank = {c.id: i for i, c in enumerate(candidates)}
        # The retriever's order as a log-prior, -w·log(1 + rank): a zero-shot model (near random on 20 options)
        # then refines the retriever instead of scrambling it; a tuned adapter's sharper logprobs dominate it.
        w = self.config.retrieval_prior
        scores = {i: lp - w * math.log1p(retrieval_rank[i]) for i, lp in letter_lp.items()}
        # Ties fall back to the retriever's order, never to the shuffled position.
        ranked = sorted(scores, key=lambda i: (-scores[i], retrieval_rank[i]))
        return RankingResult(ranked, scores, letter_lp, shown, prompt, time.perf_counter() - t0)
