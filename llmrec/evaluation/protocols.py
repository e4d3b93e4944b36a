"""Evaluation protocols: the LlamaRec full-ranking protocol and the sampled-20 protocol.

Every model is evaluated through the same code path: ``score = user_vectors(...) @ item_vectors().T``. That is
exactly what a vector store computes with the user vector as the query and item vectors as keys, so the numbers
measured here are the numbers retrieval gets (no model-specific scoring shortcut can sneak in).

**LlamaRec protocol** (LlamaRec, Table 1): all ratings are implicit feedback; 5-core filtering; per-user order by
(timestamp, tie key); leave-one-out. One model is trained on the sequences without their last two items, selected
on validation (input: training sequence, target: second-last item) and tested with the validation item appended to
the input (target: last item). Scores cover every item; the items of the input history are masked out.

**Sampled-20** (LLMRank style): the target plus 19 negatives drawn uniformly, seeded, from items the user never
interacted with; metrics N@1/5/10 over those 20. A random ranker scores N@10 ~ 0.227.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from llmrec.catalog.interactions import InteractionLog, TieBreak, natural_item_key, user_sequences
from llmrec.evaluation.metrics import ranking_metrics, recall_curve, target_ranks
from llmrec.evaluation.splits import count_stats, k_core, leave_one_out, llamarec_item_order
from llmrec.retrieval.protocol import Holdout, TrainingData, VectorModel, full_ranking_ranks, scores

Stage = Literal["valid", "test"]


@dataclass
class SequenceDataset:
    """Integer-coded leave-one-out data; item ``i`` is ``item_ids[i]``, user row ``u`` is ``user_ids[u]``.

    ``train[u]`` is user u's sequence without its last two items. ``eval_rows`` are the rows that have validation and
    test targets (all of them after 5-core filtering); ``valid[j]``/``test[j]`` belong to row ``eval_rows[j]``.
    """

    item_ids: list[str]
    user_ids: list[str]
    train: list[list[int]]
    eval_rows: np.ndarray  # (E,) int64
    valid: np.ndarray  # (E,) int64
    test: np.ndarray  # (E,) int64
    stats: dict[str, int] = field(default_factory=dict)
    tie_break: str = "row"

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def inputs(self, stage: Stage) -> tuple[list[list[int]], np.ndarray]:
        """(histories, targets) for a stage: validation sees the training sequence, test also the validation item."""
        if stage == "valid":
            return [self.train[u] for u in self.eval_rows], self.valid
        if stage == "test":
            return [self.train[u] + [int(v)] for u, v in zip(self.eval_rows, self.valid)], self.test
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")

    def train_with_validation(self) -> list[list[int]]:
        """Every training sequence with its validation item appended: what a refit after model selection trains on
        (the test item stays unseen)."""
        full = [list(seq) for seq in self.train]
        for u, item in zip(self.eval_rows, self.valid):
            full[u].append(int(item))
        return full

    def training_data(self, refit: bool = False) -> TrainingData:
        """What a retrieval model is fitted on: the training sequences with the validation holdout (``refit``: the
        training sequences with their validation items appended and no holdout, for a refit after selection)."""
        if refit:
            return TrainingData.of(self.item_ids, self.train_with_validation())
        histories, targets = self.inputs("valid")
        return TrainingData.of(self.item_ids, self.train, Holdout.of(histories, targets, self.eval_rows))

    def fingerprint(self) -> str:
        """sha256 (first 16 hex digits) of the vocabulary, sequences and targets: which data a model saw."""
        blob = json.dumps([self.item_ids, self.user_ids, self.train, self.valid.tolist(), self.test.tolist()])
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_dataset(log: InteractionLog, tie_break: TieBreak = "row", min_user: int = 5,
                  min_item: int = 5, llamarec_ties: bool = True) -> SequenceDataset:
    """k-core filter, order, split leave-one-out and integer-code an interaction log.

    Args:
        tie_break: ``"item"`` (LlamaRec's order) or ``"row"`` (file order, honest); see ``llmrec.evaluation.splits``.
        llamarec_ties: with ``tie_break="item"``, order ties by LlamaRec's dense item index (its ``set`` order)
            rather than numerically; needed to reproduce its splits exactly.
    Items are coded in ``natural_item_key`` order, so codes do not depend on the tie rule.
    """
    kept = k_core(log, min_user=min_user, min_item=min_item)
    if not len(kept):
        raise ValueError(f"no interactions survive {min_user}/{min_item}-core filtering")
    order = llamarec_item_order(kept) if tie_break == "item" and llamarec_ties else None
    split = leave_one_out(user_sequences(kept, tie_break=tie_break, item_order=order))
    item_ids = sorted(kept.present_items(), key=natural_item_key)
    code = {item: i for i, item in enumerate(item_ids)}
    user_ids = list(split.train)
    row_of = {user: u for u, user in enumerate(user_ids)}
    return SequenceDataset(
        item_ids=item_ids,
        user_ids=user_ids,
        train=[[code[i] for i in split.train[user]] for user in user_ids],
        eval_rows=np.array([row_of[user] for user in split.users], dtype=np.int64),
        valid=np.array([code[split.valid[user]] for user in split.users], dtype=np.int64),
        test=np.array([code[split.test[user]] for user in split.users], dtype=np.int64),
        stats=count_stats(kept),
        tie_break=tie_break,
    )


LLAMAREC_MASKED = 200  # LlamaRec masks only the model's input, the last max_len = 200 items of the history


@dataclass
class RankingResult:
    """Per-user ranks and the metrics derived from them."""

    ranks: np.ndarray  # (U,) 0-based, pessimistic ties
    metrics: dict[str, float]
    curve: list[float]  # Recall@k for k = 1..len(curve)


def evaluate_full_ranking(model: VectorModel, data: SequenceDataset, stage: Stage = "test",
                          ks: Sequence[int] = (5, 10, 20, 50), curve_k: int = 50,
                          mask_last: int | None = None) -> RankingResult:
    """LlamaRec protocol: rank each user's target among all items with the input history masked (all of it, or
    the newest ``mask_last`` items as LlamaRec's code does)."""
    histories, targets = data.inputs(stage)
    ranks = full_ranking_ranks(model, histories, targets, users=data.eval_rows.tolist(), mask_last=mask_last)
    return RankingResult(ranks=ranks, metrics=ranking_metrics(ranks, ks), curve=recall_curve(ranks, curve_k).tolist())


def sample_candidates(data: SequenceDataset, stage: Stage = "test", negatives: int = 19,
                      seed: int = 0) -> np.ndarray:
    """(U, 1 + negatives) candidate item codes per evaluated user: the target first, then sampled negatives.

    Negatives are drawn uniformly without replacement from items absent from the user's whole sequence (training,
    validation and test items), with a ``numpy`` generator seeded by ``seed``, so every model sees the same sets.
    Callers that show candidates to an LLM must shuffle them; scoring by rank does not need it.
    """
    histories, targets = data.inputs(stage)
    rng = np.random.default_rng(seed)
    out = np.empty((len(targets), 1 + negatives), dtype=np.int64)
    for j, (history, target) in enumerate(zip(histories, targets)):
        seen = np.zeros(data.n_items, dtype=bool)
        seen[history] = True
        seen[data.valid[j]] = seen[data.test[j]] = True
        pool = np.flatnonzero(~seen)
        if len(pool) < negatives:
            raise ValueError(f"user {data.user_ids[data.eval_rows[j]]} has only {len(pool)} unseen items; "
                             f"cannot sample {negatives} negatives")
        out[j, 0] = target
        out[j, 1:] = rng.choice(pool, size=negatives, replace=False)
    return out


def evaluate_sampled(model: VectorModel, data: SequenceDataset, stage: Stage = "test", negatives: int = 19,
                     seed: int = 0, ks: Sequence[int] = (1, 5, 10)) -> RankingResult:
    """Sampled-20 protocol: rank the target among itself and ``negatives`` sampled unseen items."""
    histories, _ = data.inputs(stage)
    candidates = sample_candidates(data, stage, negatives, seed)  # (U, C), column 0 = target
    scored = scores(model, histories, data.eval_rows.tolist())  # (U, I)
    picked = np.take_along_axis(scored, candidates, axis=1)  # (U, C)
    ranks = target_ranks(picked, np.zeros(len(candidates), dtype=np.int64))
    return RankingResult(ranks=ranks, metrics=ranking_metrics(ranks, ks),
                         curve=recall_curve(ranks, candidates.shape[1]).tolist())
