"""Ranking examples from interaction sequences, built exactly like serving builds its prompts: the one builder that
``llmrec train`` (a workspace's log) and the ranker protocol (``llmrec.evaluation.ranker``) both use.

Per user (history ordered by time, ties by file order): the last item is the test target and never seen here, the
second-last validates, and up to ``examples_per_user`` earlier cut points train (``training_cuts``). Each example is
the history before the cut, a candidate list for that history (hard negatives: what the served ranker will actually
face) with the true next item swapped in when the list missed it (``with_target``), and, when the candidate source
has a collaborative model, each option's evidence level exactly as serving shows it; the ranker renders it in its
seeded shuffled order (``make_example``). Where the candidates come from is a ``CandidateSource``: the workspace's
retriever here (``RetrieverCandidates``), a fitted retrieval model in the protocol.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from llmrec.ranking.ranker import LLMRanker
from llmrec.retrieval.collaborative import CollaborativeIndex
from llmrec.retrieval.retriever import CandidateRetriever
from llmrec.workspace import StoredItem, Workspace

ItemLookup = Callable[[Sequence[str]], Mapping[str, StoredItem]]  # item ids -> what the ranker renders


@dataclass(frozen=True)
class RankingExample:
    user_id: str
    prompt: str
    target_id: str
    target_letter: str
    letters: tuple[str, ...]   # every option letter in the prompt, for scoring
    split: str                 # "train" | "valid"
    # Each letter's place in the candidate list as retrieved (0 = first), aligned with ``letters``: what the served
    # ranker's retrieval prior -w·log(1 + place) reads, so training can see the scores serving ranks by. () = unknown.
    list_ranks: tuple[int, ...] = ()


@dataclass(frozen=True)
class Cut:
    """One example to build: ``history`` (item ids, oldest first) and the ``target`` that came next."""

    user_id: str
    history: list[str]
    target: str
    split: str


class CandidateSource(Protocol):
    """Candidate lists for histories, and optionally each list's collaborative evidence (item id → the evidence
    model's 1-based rank; None without a collaborative model)."""

    def candidates(self, histories: Sequence[Sequence[str]], n: int) -> list[list[str]]: ...

    def evidence(self, histories: Sequence[Sequence[str]], lists: Sequence[Sequence[str]], n: int
                 ) -> list[dict[str, int] | None]: ...


def training_cuts(user_id: str, sequence: Sequence[str], per_user: int) -> list[Cut]:
    """The last ``per_user`` cut points of ``sequence``, the part of a user's history examples may train on (its
    items before the validation and test items), each with at least one item of history."""
    return [Cut(user_id, list(sequence[:k]), sequence[k], "train")
            for k in range(max(1, len(sequence) - per_user), len(sequence))]


def with_target(candidates: Sequence[str], target: str, n: int) -> list[str]:
    """The list with ``target`` in it: kept as is when it is there, else in place of the last of ``n`` (appended to
    a shorter list)."""
    found = list(candidates)
    if target in found:
        return found
    return (found[: n - 1] + [target]) if len(found) >= n else found + [target]


def build_examples(ranker: LLMRanker, items: ItemLookup, source: CandidateSource, cuts: Sequence[Cut], n: int,
                   progress: Callable = lambda it, total, desc: it, chunk: int = 512,
                   hits_only: bool = False) -> list[RankingExample]:
    """One example per cut, in the cuts' order: the source's ``n`` candidates for the history (the target swapped
    in), their evidence, the prompt the ranker renders. ``progress`` (iterable, total, description) wraps the
    chunks of ``chunk`` cuts the source is asked for at once. ``hits_only`` drops the cuts whose next item the
    source's list misses instead of swapping it in (the lists a re-ranking evaluation scores)."""
    out = []
    for start in progress(range(0, len(cuts), chunk), -(-len(cuts) // chunk), "examples"):
        part = cuts[start:start + chunk]
        found = source.candidates([c.history for c in part], n)
        if hits_only:
            kept = [(c, f) for c, f in zip(part, found) if c.target in f]
            part, found = [c for c, _ in kept], [f for _, f in kept]
        histories = [c.history for c in part]
        lists = [with_target(f, cut.target, n) for f, cut in zip(found, part)]
        evidence = source.evidence(histories, lists, n)
        out += [make_example(ranker, items, cut.user_id, cut.history, found, cut.target, cut.split, ev)
                for cut, found, ev in zip(part, lists, evidence)]
    return out


def make_example(ranker: LLMRanker, items: ItemLookup, user_id: str, history: Sequence[str],
                 candidates: Sequence[str], target: str, split: str,
                 collab_rank: Mapping[str, int] | None = None) -> RankingExample:
    """The prompt the ranker renders for this history and candidate list, and the letter the target got."""
    stored = items([*candidates, *history])
    prompt, shown = ranker.build_prompt("", [stored[h] for h in history], [stored[i] for i in candidates],
                                        collab_rank=collab_rank)
    letter = next(letter for letter, item_id in shown if item_id == target)
    place = {item_id: i for i, item_id in enumerate(candidates)}
    return RankingExample(user_id, prompt.text, target, letter, tuple(letter for letter, _ in shown), split,
                          tuple(place[item_id] for _, item_id in shown))


def examples_hash(examples: list[RankingExample]) -> str:
    """Hash of the exact training data, recorded in the adapter manifest."""
    h = hashlib.sha256()
    for e in examples:
        h.update(json.dumps([e.user_id, e.target_id, e.target_letter, e.prompt, list(e.list_ranks)]).encode())
    return h.hexdigest()[:16]


# ---- a workspace's log (``llmrec train``) ------------------------------------------------------------------------

class RetrieverCandidates:
    """The workspace's retriever as the candidate source, and its collaborative index (when fitted) as the evidence,
    at the serving retriever's fetch depth, so "outside the list" means the same thing as when serving."""

    def __init__(self, retriever: CandidateRetriever, collab: CollaborativeIndex | None = None):
        self.retriever, self.collab = retriever, collab

    def candidates(self, histories: Sequence[Sequence[str]], n: int) -> list[list[str]]:
        return [[c.id for c in self.retriever.retrieve(None, list(h), set(h), n)] for h in histories]

    def evidence(self, histories: Sequence[Sequence[str]], lists: Sequence[Sequence[str]], n: int
                 ) -> list[dict[str, int] | None]:
        if self.collab is None:
            return [None] * len(histories)
        depth = n * self.retriever.config.fetch_multiplier
        return [{item_id: r for r, item_id in enumerate(self.collab.query(list(h), depth, set(h)), start=1)}
                for h in histories]


def user_sequences(workspace: Workspace) -> dict[str, list[str]]:
    """Each user's catalog items, oldest first (ties by original row)."""
    from llmrec.catalog.interactions import user_sequences as ordered

    return ordered(workspace.interaction_log().with_items(workspace.all_item_ids()), tie_break="row")


def workspace_examples(workspace: Workspace, retriever: CandidateRetriever, ranker: LLMRanker, n_candidates: int,
                       examples_per_user: int, validation_users: int, progress=lambda it, total, desc: it,
                       collab: CollaborativeIndex | None = None
                       ) -> tuple[list[RankingExample], list[RankingExample]]:
    """(train, valid) examples from a workspace's log: users with 3+ items, in id order; validation users are a
    deterministic spread (sorted by a hash of the id, not by id, so they are not all early sign-ups), each with
    one example on their second-last item."""
    sequences = {u: s for u, s in user_sequences(workspace).items() if len(s) >= 3}
    users = sorted(sequences)
    by_hash = sorted(users, key=lambda u: hashlib.sha256(u.encode()).hexdigest())
    valid_users = set(by_hash[:validation_users])
    cuts = []
    for user in users:
        seq = sequences[user]
        if user in valid_users:
            cuts.append(Cut(user, seq[:-2], seq[-2], "valid"))
        cuts += training_cuts(user, seq[:-2], examples_per_user)
    examples = build_examples(ranker, workspace.get_items, RetrieverCandidates(retriever, collab), cuts,
                              n_candidates, progress)
    return [e for e in examples if e.split == "train"], [e for e in examples if e.split == "valid"]
