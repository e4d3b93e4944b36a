"""Scoring in the ranker protocol: the LLM's letter log-probabilities for each list, fused with the retriever's
order by a prior ``-w·log(1 + rank)``, the evidence-only baselines, and a table row's metrics."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np

from llmrec.evaluation.candidates import CatalogItems
from llmrec.evaluation.metrics import ndcg_at_k, ranking_metrics, target_ranks
from llmrec.ranking.ranker import evidence_levels, retrieval_prior

PRIOR_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
FULL_KS = (5, 10, 20)


def llm_logprobs(ranker, items: CatalogItems, item_ids: Sequence[str], histories: Sequence[Sequence[int]],
                 lists: np.ndarray, evidence: list[dict], label: str) -> np.ndarray:
    """(U, n) letter log-probabilities of each list's candidates (item codes), in the list's (retriever) order."""
    out = np.zeros(lists.shape, dtype=np.float64)
    t0 = time.perf_counter()
    for j, (history, codes) in enumerate(zip(histories, lists)):
        cands = [items.one(item_ids[c]) for c in codes]
        result = ranker.rank("", [items.one(item_ids[h]) for h in history], cands, collab_rank=evidence[j])
        out[j] = [result.logprobs[c.id] for c in cands]
        if (j + 1) % 10 == 0 or j + 1 == len(lists):
            print(f"  {label}: {j + 1}/{len(lists)} lists, {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                  flush=True)
    return out


def fused_ranks(logprobs: np.ndarray, target_col: np.ndarray, w: float) -> np.ndarray:
    """0-based rank of the target after fusing letter logprobs with the retriever's order (columns = its order)."""
    prior = np.array([retrieval_prior(place, w) for place in range(logprobs.shape[1])], dtype=np.float64)
    return target_ranks(logprobs + prior[None, :], target_col)


def evidence_only_ranks(evidence: list[dict[str, int]], item_ids: Sequence[str], lists: np.ndarray,
                        target_col: np.ndarray, levels: bool) -> np.ndarray:
    """0-based target ranks with no LLM: by the evidence model's order, or by the levels the prompt shows with ties
    in the list's (retriever) order."""
    if levels:
        value = {"very high": 3, "high": 2, "medium": 1, "low": 0}
        rows = []
        for codes, ev in zip(lists, evidence):
            ids = [item_ids[c] for c in codes]
            shown = evidence_levels(ids, ev)
            rows.append([value[shown[i]] for i in ids])
        scores = np.array(rows, dtype=np.float64)
        scores -= np.arange(lists.shape[1])[None, :] * 1e-3  # ties: the retriever's order
    else:
        scores = -np.array([[ev[item_ids[c]] for c in codes] for codes, ev in zip(lists, evidence)],
                           dtype=np.float64)
    return target_ranks(scores, target_col)


def best_prior(logprobs: np.ndarray, target_col: np.ndarray, extra: Sequence[float] = ()
               ) -> tuple[float, dict[str, float]]:
    """The weight in ``PRIOR_GRID`` (plus ``extra``, e.g. the one an adapter was trained with) with the best
    NDCG@10, the smallest among equals, and the whole curve."""
    grid = sorted({*PRIOR_GRID, *map(float, extra)})
    curve = {str(w): round(ndcg_at_k(fused_ranks(logprobs, target_col, w), 10), 4) for w in grid}
    return max(grid, key=lambda w: (curve[str(w)], -w)), curve


def table_row(full_ranks: np.ndarray, hit: np.ndarray, inside_ranks: np.ndarray, w: float | None) -> dict:
    """Full-protocol metrics with the re-ranked users' ranks replaced, plus metrics on those users alone."""
    ranks = full_ranks.copy()
    ranks[hit] = inside_ranks
    full = ranking_metrics(ranks, FULL_KS)
    inner = ranking_metrics(inside_ranks, (1, 5, 10))
    return {"prior": w, "full": {k: round(v, 4) for k, v in full.items()},
            "inside_top20": {k: round(v, 4) for k, v in inner.items()}}
