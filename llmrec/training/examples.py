"""Ranking examples from interaction logs, built exactly like serving builds its prompts.

Per user (history ordered by time, ties by file order): the last item is the test target and never seen here, the
second-last validates, and up to ``examples_per_user`` earlier cut points train. Each example is the history before
the cut, the retriever's top-N for that history (hard negatives: what the served ranker will actually face) with the
true next item swapped in when the retriever missed it, in the ranker's seeded shuffled order. With a fitted
collaborative model each option carries its collaborative evidence level exactly as serving shows it (the model's
rank over the same fetch depth; an option outside it is "low"), so the adapter learns to read that fact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from llmrec.ranking.ranker import LLMRanker
from llmrec.retrieval.collaborative import CollaborativeIndex
from llmrec.retrieval.retriever import CandidateRetriever
from llmrec.workspace import Workspace


@dataclass(frozen=True)
class RankingExample:
    user_id: str
    prompt: str
    target_id: str
    target_letter: str
    letters: tuple[str, ...]   # every option letter in the prompt, for scoring
    split: str                 # "train" | "valid"


def user_sequences(workspace: Workspace) -> dict[str, list[str]]:
    """Each user's catalog items, oldest first (ties by original row)."""
    from llmrec.evaluation.splits import user_sequences as ordered

    return ordered(workspace.interaction_log().with_items(workspace.all_item_ids()), tie_break="row")


def build_examples(workspace: Workspace, retriever: CandidateRetriever, ranker: LLMRanker, n_candidates: int,
                   examples_per_user: int, validation_users: int, progress=lambda it, total, desc: it,
                   collab: CollaborativeIndex | None = None
                   ) -> tuple[list[RankingExample], list[RankingExample]]:
    sequences = {u: s for u, s in user_sequences(workspace).items() if len(s) >= 3}
    users = sorted(sequences)
    # Validation users: a deterministic spread (sorted by a hash, not by id, so they are not all early sign-ups).
    by_hash = sorted(users, key=lambda u: hashlib.sha256(u.encode()).hexdigest())
    valid_users = set(by_hash[:validation_users])
    train, valid = [], []
    for user in progress(users, len(users), "examples"):
        seq = sequences[user]
        cuts = [("valid", len(seq) - 2)] if user in valid_users else []
        first = max(1, len(seq) - 2 - examples_per_user)
        cuts += [("train", i) for i in range(first, len(seq) - 2)]
        for split, cut in cuts:
            example = _example(workspace, retriever, ranker, user, seq[:cut], seq[cut], n_candidates, split, collab)
            (train if split == "train" else valid).append(example)
    return train, valid


def _example(workspace, retriever, ranker, user, history_ids, target, n, split, collab=None) -> RankingExample:
    exclude = set(history_ids)
    found = [c.id for c in retriever.retrieve(None, history_ids, exclude, n)]
    if target not in found:
        found = (found[: n - 1] + [target]) if len(found) >= n else found + [target]
    collab_rank = None
    if collab is not None:  # the serving retriever's fetch depth, so "outside the list" means the same thing
        ranked = collab.query(history_ids, n * retriever.config.fetch_multiplier, exclude)
        collab_rank = {item_id: r for r, item_id in enumerate(ranked, start=1)}
    stored = workspace.get_items(found + history_ids)
    prompt, shown = ranker.build_prompt("", [stored[h] for h in history_ids], [stored[i] for i in found],
                                        collab_rank=collab_rank)
    letter = next(letter for letter, item_id in shown if item_id == target)
    return RankingExample(user, prompt.text, target, letter, tuple(letter for letter, _ in shown), split)


def examples_hash(examples: list[RankingExample]) -> str:
    """Hash of the exact training data, recorded in the adapter manifest."""
    h = hashlib.sha256()
    for e in examples:
        h.update(json.dumps([e.user_id, e.target_id, e.target_letter, e.prompt]).encode())
    return h.hexdigest()[:16]
