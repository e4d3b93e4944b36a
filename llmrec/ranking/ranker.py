"""Rank candidates by the LLM's probability of naming each one, in a single forward pass.

The prompt lists candidates as lettered options in a seeded shuffled order (so position bias averages out across
requests and any order can be replayed from the record); the score of a candidate is the logprob of its letter as
the next token (LlamaRec's verbalizer). Output can only be candidates: there is nothing to parse.

With a known user each option may also carry one computed fact, how strongly the collaborative model (what people
with similar histories did) favours it, as a level relative to the other options (``evidence_levels``). A small LLM
cannot know which films co-occur in other people's logs, and the catalog text inside the retriever's top-20 barely
separates the right item from the rest (the retired ranker probe, ``eval/README.md``); this fact is what a fine-tuned
adapter learns to weigh against the text. It is omitted when no candidate has a collaborative rank (anonymous
requests).

Prompt length is what a ranking pass costs (a prefill: about 2 × the model's non-embedding weights FLOPs per token),
so each option's catalog text and the history can be cut to token budgets (``RankerConfig.option_tokens``,
``history_tokens``; ``eval/ranking_speed.py`` measures what each costs on sampled-20), and the template's static head
(``RenderedPrompt.static_prefix``) is handed to the backend, which computes it once and reuses it.

The template is ``RankerConfig.template`` (``ranking.j2``, ``ranking_recency.j2``, ``ranking_icl.j2``). Templates that
read an ``example`` variable get one worked example from the user's own past (``InContextExample``); it is checked
here never to show a current candidate, so it cannot leak the answer.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llmrec.catalog.cards import card_summary
from llmrec.config import RankerConfig
from llmrec.errors import ConfigError
from llmrec.prompts import PromptLibrary, RenderedPrompt
from llmrec.ranking.backends.base import LLMBackend
from llmrec.workspace import StoredItem

RANKING_TEMPLATE = "ranking.j2"  # the default; RankerConfig.template picks the one used
# Options in an in-context example: the item chosen next plus this many minus one distractors. Few, so the example
# costs a fraction of the real question's tokens.
EXAMPLE_OPTIONS = 5
# One single-token label per candidate; " A" is one token in BPE vocabularies the letter alone is not always.
# Collaborative evidence levels by position among the options (best first): the top 10% "very high", the next 15%
# "high", the rest of the top half "medium", everything else (and options the model did not rank) "low". Relative,
# not absolute, so one adapter reads every collaborative model's scores the same way.
EVIDENCE_LEVELS = ((0.10, "very high"), (0.25, "high"), (0.50, "medium"))
LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)] + [chr(c) for c in range(ord("a"), ord("z") + 1)]


def retrieval_prior(place: int, w: float) -> float:
    """The retriever's order as a log-prior on an option's score, -w·log(1 + place) (place 0 = retrieved first): the
    one definition that serving, the trainer's residual loss and the ranker protocol's fusion all add."""
    return -w * math.log1p(place)


@dataclass
class RankingResult:
    ranked: list[str]                 # item ids, best first
    scores: dict[str, float]          # item id -> final score (letter logprob + retrieval prior)
    logprobs: dict[str, float]        # item id -> letter logprob alone
    shown: list[tuple[str, str]]      # (letter, item id) in the order the prompt listed them
    prompt: RenderedPrompt
    seconds: float
    tokens: int = 0                   # prompt length in the ranking model's tokens (0 where it has no tokenizer)
    pass_seconds: float = 0.0         # of ``seconds``, the model call alone (prompt building and budgets excluded)


@dataclass(frozen=True)
class InContextExample:
    """One worked example from a user's own past: what they had enjoyed before a cut, and what they chose next.

    ``history`` is the sequence before the cut (oldest first), ``answer`` the item right after it, ``distractors``
    items the user never interacted with; together they are the example's options. Nothing after the cut appears.
    """

    history: tuple[StoredItem, ...]
    answer: StoredItem
    distractors: tuple[StoredItem, ...]

    def items(self) -> list[StoredItem]:
        return [*self.history, self.answer, *self.distractors]


def incontext_example(history: Sequence[StoredItem], distractors: Sequence[StoredItem],
                      k: int = 1) -> InContextExample | None:
    """The example ``history[:-k] → history[-k]``; None when the history is too short to cut (fewer than k + 1).

    Items after the cut (``history[-k + 1:]``) stay out of the example; ``distractors`` must be items the user never
    interacted with (ValueError otherwise: a seen item offered as a wrong answer would teach the wrong thing).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(history) < k + 1:
        return None
    cut = len(history) - k
    seen = {h.id for h in history}
    bad = [d.id for d in distractors if d.id in seen]
    if bad:
        raise ValueError(f"distractors must be items the user never interacted with; seen: {', '.join(bad[:5])}")
    if len({d.id for d in distractors}) != len(distractors):
        raise ValueError("distractors must be distinct")
    return InContextExample(history=tuple(history[:cut]), answer=history[cut], distractors=tuple(distractors))


def history_before(history: Sequence[StoredItem], candidates: Sequence[StoredItem]) -> list[StoredItem]:
    """The history up to its first current candidate: the past an in-context example may be cut from.

    With ``include_seen`` a candidate can be an item the user already had; an example whose history or answer showed
    it would leak the answer (``LLMRanker`` refuses one), so the example comes from what the user had before it.
    """
    now = {c.id for c in candidates}
    stop = next((i for i, h in enumerate(history) if h.id in now), len(history))
    return list(history[:stop])


def evidence_levels(ids: Sequence[str], collab_rank: Mapping[str, float] | None) -> dict[str, str]:
    """Item id -> evidence level for each of ``ids``; ``collab_rank`` is each item's rank in the collaborative
    model's list (lower is better; absent = not ranked). Empty when no item has a rank: nothing to show."""
    if not collab_rank:
        return {}
    ranked = sorted((i for i in ids if i in collab_rank), key=lambda i: collab_rank[i])
    if not ranked:
        return {}
    n = len(ids)
    levels = dict.fromkeys(ids, "low")
    for position, item_id in enumerate(ranked):
        levels[item_id] = next((name for share, name in EVIDENCE_LEVELS if position < share * n), "low")
    return levels


def request_seed(seed: int, *parts: str) -> int:
    """A per-request seed: the same request and config always shuffle the same way."""
    h = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(h[:8], "big")


class LLMRanker:
    def __init__(self, backend: LLMBackend, library: PromptLibrary, config: RankerConfig):
        self.backend = backend
        self.library = library.with_chat(backend.chat)
        self.config = config
        self.template = config.template
        if not self.library.has(self.template):
            raise ConfigError(f"ranking template {self.template!r} not found in {self.library.directory}; "
                              "set [ranker] template to a ranking*.j2 file there")
        self.uses_example = "example" in self.library.variables(self.template)

    @property
    def _tokenizer(self):
        return getattr(self.backend, "tokenizer", None)

    def _token_counts(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self._tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def _cut_to_tokens(self, texts: list[str], budgets: list[int]) -> list[str]:
        """Each text cut to its budget of tokens (an ellipsis, about one token, included), at a token boundary."""
        enc = self._tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        cut = []
        for text, offsets, budget in zip(texts, enc["offset_mapping"], budgets):
            if len(offsets) <= budget:
                cut.append(text)
            elif budget <= 1:
                cut.append("")
            else:
                head = text[:offsets[budget - 2][1]]
                # Whole values read better than half a word ("Sci…", "20…"): back off to the last separator.
                end = max(head.rfind("; "), head.rfind(", "))
                cut.append((head[:end] if end > 0 else head).rstrip() + "…")
        return cut

    def _options(self, items: list[StoredItem], evidence: Mapping[str, str] | None = None) -> list[dict]:
        limit = self.config.card_chars_in_prompt
        evidence = evidence or {}
        summaries = [card_summary(c.card, limit) for c in items]
        budget = self.config.option_tokens
        if budget is not None and self._tokenizer is not None and items:
            # The title is kept whole (it names the item); the summary gets what the title leaves of the budget.
            titles = self._token_counts([c.title for c in items])
            summaries = self._cut_to_tokens(summaries, [budget - t for t in titles])
        return [{"letter": LETTERS[i], "title": c.title, "summary": summaries[i],
                 "evidence": evidence.get(c.id, "")} for i, c in enumerate(items)]

    def history_shown(self, history: Sequence[StoredItem]) -> list[StoredItem]:
        """The history items the prompt shows, oldest first: the newest ``history_in_prompt``, then as many of the
        newest of those as fit ``history_tokens``."""
        n = self.config.history_in_prompt
        shown = list(history[-n:]) if n else []
        budget = self.config.history_tokens
        if budget is None or self._tokenizer is None or not shown:
            return shown
        used, kept = 0, 0
        for count in reversed(self._token_counts([h.title for h in shown])):
            if used + count > budget:
                break
            used, kept = used + count, kept + 1
        return shown[len(shown) - kept:]

    @staticmethod
    def _favourites(order: list[StoredItem], evidence: Mapping[str, str], collab_rank: Mapping[str, float] | None
                    ) -> list[str]:
        """Letters of the "very high" and "high" options, strongest first: the same evidence restated as one line
        right before the answer, where the model can copy a letter instead of matching levels to options."""
        if not evidence or not collab_rank:
            return []
        strong = [(collab_rank[c.id], i) for i, c in enumerate(order) if evidence.get(c.id) in ("very high", "high")]
        return [LETTERS[i] for _, i in sorted(strong)]

    def _history(self, history: Sequence[StoredItem]) -> list[dict]:
        shown = self.history_shown(history)
        budget = self.config.history_facts_tokens
        if not budget or self._tokenizer is None or not shown:
            return [{"title": h.title, "summary": ""} for h in shown]
        facts = self._cut_to_tokens([card_summary(h.card, self.config.card_chars_in_prompt) for h in shown],
                                    [budget] * len(shown))
        return [{"title": h.title, "summary": f} for h, f in zip(shown, facts)]

    def _example(self, example: InContextExample | None, query: str,
                 candidates: list[StoredItem]) -> dict | None:
        if example is None or not self.uses_example:
            return None
        leaked = {c.id for c in candidates} & {i.id for i in example.items()}
        if leaked:
            raise ValueError(f"the in-context example shows current candidate(s) {', '.join(sorted(leaked)[:5])}: "
                             "it would leak the answer")
        order = [example.answer, *example.distractors]
        random.Random(request_seed(self.config.seed, "example", query, *[c.id for c in order])).shuffle(order)
        letter = LETTERS[order.index(example.answer)]
        return {"history": self._history(example.history), "options": self._options(order), "answer": letter}

    def build_prompt(self, query: str | None, history: list[StoredItem], candidates: list[StoredItem],
                     example: InContextExample | None = None, collab_rank: Mapping[str, float] | None = None,
                     conditions: Sequence[str] = ()) -> tuple[RenderedPrompt, list[tuple[str, str]]]:
        """The rendered prompt and the (letter, item id) pairs in shown order; ``example`` only where the template
        reads one; ``collab_rank`` (item id -> rank in the collaborative model's list) adds each option's evidence
        level, unless ``RankerConfig.collab_evidence`` is off; ``conditions`` (labels of the request's hard
        conditions, which every option already meets) are stated after the request."""
        if len(candidates) > len(LETTERS):
            raise ValueError(f"at most {len(LETTERS)} candidates can be ranked in one pass, got {len(candidates)}")
        order = list(candidates)
        random.Random(request_seed(self.config.seed, query or "", *[c.id for c in candidates])).shuffle(order)
        evidence = evidence_levels([c.id for c in candidates], collab_rank) if self.config.collab_evidence else {}
        prompt = self.library.render(self.template, query=query or "", history=self._history(history),
                                     options=self._options(order, evidence),
                                     favourites=self._favourites(order, evidence, collab_rank),
                                     example=self._example(example, query or "", candidates),
                                     conditions=list(conditions))
        return prompt, [(LETTERS[i], c.id) for i, c in enumerate(order)]

    def rank(self, query: str | None, history: list[StoredItem], candidates: list[StoredItem],
             example: InContextExample | None = None, collab_rank: Mapping[str, float] | None = None,
             conditions: Sequence[str] = ()) -> RankingResult:
        t0 = time.perf_counter()
        if not candidates:
            prompt = RenderedPrompt("", self.template, "")
            return RankingResult([], {}, {}, [], prompt, 0.0)
        prompt, shown = self.build_prompt(query, history, candidates, example, collab_rank, conditions)
        letters = [" " + letter for letter, _ in shown]
        t_pass = time.perf_counter()
        if prompt.static_prefix:
            logprobs = self.backend.option_logprobs([prompt.text], letters, prefix=prompt.static_prefix)[0]
        else:
            logprobs = self.backend.option_logprobs([prompt.text], letters)[0]
        pass_seconds = time.perf_counter() - t_pass
        letter_lp = {item_id: lp for (_, item_id), lp in zip(shown, logprobs)}
        retrieval_rank = {c.id: i for i, c in enumerate(candidates)}
        # The retriever's order as a log-prior, -w·log(1 + rank): a zero-shot model (near random on 20 options)
        # then refines the retriever instead of scrambling it; a tuned adapter's sharper logprobs dominate it.
        w = self.config.retrieval_prior
        scores = {i: lp + retrieval_prior(retrieval_rank[i], w) for i, lp in letter_lp.items()}
        # Ties fall back to the retriever's order, never to the shuffled position.
        ranked = sorted(scores, key=lambda i: (-scores[i], retrieval_rank[i]))
        seconds = time.perf_counter() - t0
        tokens = self._token_counts([prompt.text])[0] if self._tokenizer is not None else 0
        return RankingResult(ranked, scores, letter_lp, shown, prompt, seconds, tokens, pass_seconds)
