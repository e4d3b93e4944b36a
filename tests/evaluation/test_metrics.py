"""Ranking metrics from hand-computed cases: one target per user, ties counted against the target."""

import math

import numpy as np
import pytest

from llmrec.evaluation.metrics import (mrr_at_k, ndcg_at_k, ranking_metrics, recall_at_k, recall_curve,
                                       target_ranks)


def test_rank_counts_items_scored_strictly_higher():
    scores = np.array([[0.1, 0.9, 0.5, 0.3]])
    assert target_ranks(scores, [2]).tolist() == [1]  # only 0.9 beats 0.5
    assert target_ranks(scores, [1]).tolist() == [0]
    assert target_ranks(scores, [0]).tolist() == [3]


def test_rank_counts_tied_items_ahead_of_the_target():
    scores = np.array([[0.5, 0.5, 0.5, 0.1]])
    # Whichever of the three tied items is the target, the other two are placed before it.
    assert target_ranks(scores, [0]).tolist() == [2]
    assert target_ranks(scores, [2]).tolist() == [2]


def test_ndcg_counts_tied_scores_pessimistically():
    constant = np.zeros((1, 10))  # a model that cannot tell items apart
    ranks = target_ranks(constant, [0])
    assert ranks.tolist() == [9]
    assert ndcg_at_k(ranks, 5) == 0.0  # not 1.0, as index-order tie breaking would give for item 0
    assert ndcg_at_k(ranks, 10) == pytest.approx(1 / math.log2(11))


def test_masked_target_counts_as_a_miss():
    scores = np.array([[-np.inf, 0.2, -np.inf]])
    assert target_ranks(scores, [0]).tolist() == [2]


def test_target_at_rank_zero_scores_one_everywhere():
    ranks = np.array([0])
    assert recall_at_k(ranks, 1) == 1.0
    assert ndcg_at_k(ranks, 1) == 1.0
    assert mrr_at_k(ranks, 1) == 1.0


def test_metrics_are_hand_computed_means():
    ranks = np.array([0, 1, 4, 9, 10])  # the last one is just outside the top 10
    assert recall_at_k(ranks, 5) == pytest.approx(3 / 5)
    assert recall_at_k(ranks, 10) == pytest.approx(4 / 5)
    assert ndcg_at_k(ranks, 5) == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(6)) / 5)
    assert ndcg_at_k(ranks, 10) == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(6) + 1 / math.log2(11)) / 5)
    assert mrr_at_k(ranks, 5) == pytest.approx((1 + 1 / 2 + 1 / 5) / 5)
    assert mrr_at_k(ranks, 10) == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 10) / 5)


def test_target_beyond_k_contributes_nothing():
    ranks = np.array([10, 50])
    assert recall_at_k(ranks, 10) == ndcg_at_k(ranks, 10) == mrr_at_k(ranks, 10) == 0.0


def test_ranking_metrics_names_every_metric_at_every_k():
    metrics = ranking_metrics(np.array([0, 3]), ks=(1, 5))
    assert set(metrics) == {"Recall@1", "NDCG@1", "MRR@1", "Recall@5", "NDCG@5", "MRR@5"}
    assert metrics["Recall@1"] == 0.5
    assert metrics["MRR@5"] == pytest.approx((1 + 1 / 4) / 2)


def test_recall_curve_is_cumulative_hit_rate():
    curve = recall_curve(np.array([0, 2, 2, 7]), max_k=4)
    assert curve.tolist() == [0.25, 0.25, 0.75, 0.75]
    assert curve[-1] == recall_at_k(np.array([0, 2, 2, 7]), 4)


def test_random_ranker_over_twenty_candidates_scores_the_known_ndcg():
    # Uniform ranks over 20 candidates: N@10 = (1/20) * sum_{r<10} 1/log2(r+2) ~ 0.227 (DESIGN.md's random line).
    assert ndcg_at_k(np.arange(20), 10) == pytest.approx(0.2272, abs=1e-4)


def test_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        target_ranks(np.array([[0.1, np.nan]]), [0])


def test_out_of_range_target_is_rejected():
    with pytest.raises(ValueError, match="out of range"):
        target_ranks(np.zeros((1, 3)), [3])


def test_per_user_ndcg_is_what_ndcg_at_k_averages():
    from llmrec.evaluation.metrics import ndcg_at_k, per_user_ndcg

    ranks = np.array([0, 1, 9, 10, 40])
    each = per_user_ndcg(ranks, 10)
    assert each.tolist() == pytest.approx([1.0, 1 / np.log2(3), 1 / np.log2(11), 0.0, 0.0])
    assert each.mean() == pytest.approx(ndcg_at_k(ranks, 10))


def test_random_order_ndcg_is_the_exact_expectation():
    from llmrec.evaluation.metrics import random_order_ndcg

    assert random_order_ndcg(1, 4) == pytest.approx(0.25)
    assert random_order_ndcg(10, 2) == pytest.approx((1 + 1 / np.log2(3)) / 2)  # k beyond n: every position counts


def test_paired_difference_reports_mean_standard_error_and_z():
    from llmrec.evaluation.metrics import paired_difference

    d = paired_difference(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 0.0]))
    assert d == {"mean": 2.0, "se": round(1 / np.sqrt(3), 4), "z": round(2 * np.sqrt(3), 2)}
    assert paired_difference(np.array([1.0]), np.array([0.0]))["z"] is None  # one user: no spread, no z
