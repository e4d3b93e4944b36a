"""EASE: the closed-form item-to-item model, queried by a recency-weighted history."""

import numpy as np
import pytest

from llmrec.retrieval.ease import EASEConfig, EASERecommender
from llmrec.retrieval.protocol import Holdout, TrainingData, masked_scores
from llmrec.testing.retrieval_contract import RetrievalModelContract


class TestEASEContract(RetrievalModelContract):
    seeded = False

    def make_model(self):
        return EASERecommender()

    def make_config(self):
        return EASEConfig(l2=10.0)


def coded(sequences, n_items: int = 20, valid=None) -> TrainingData:
    return TrainingData.of([f"i{i}" for i in range(n_items)], sequences, valid)


def two_taste_groups() -> list[list[int]]:
    """Users 0-9 consume items from 0-9, users 10-19 from 10-19; each user skips two items of their half."""
    rng = np.random.default_rng(0)
    return [rng.permutation(np.arange(10) + (10 if user >= 10 else 0))[:8].tolist() for user in range(20)]


def test_weights_are_the_constrained_ridge_solution():
    """Each column of B minimises ||x_j - X b_j||² + λ||b_j||² with b_jj = 0: checked against lstsq per column."""
    sequences = two_taste_groups()
    model = EASERecommender().fit(coded(sequences), EASEConfig(l2=5.0))
    x = np.zeros((20, 20))
    for row, seq in enumerate(sequences):
        x[row, seq] = 1
    b = model.item_vectors().T
    assert np.allclose(np.diag(b), 0)
    for j in (0, 7, 15):
        others = [i for i in range(20) if i != j]
        a = np.vstack([x[:, others], np.sqrt(5.0) * np.eye(19)])
        y = np.concatenate([x[:, j], np.zeros(19)])
        expected = np.linalg.lstsq(a, y, rcond=None)[0]
        assert np.allclose(b[others, j], expected, atol=1e-8)


def test_query_weighs_the_newest_item_most_and_a_repeat_keeps_its_newest_weight():
    model = EASERecommender().fit(coded([[0, 1]], n_items=5), EASEConfig(decay=0.5, window=3))
    q = model.user_vectors([[4, 1, 2, 1]])[0]
    # window keeps [1, 2, 1]: item 1 is newest (weight 1), item 2 one step older (0.5); item 4 fell out
    assert q.tolist() == [0.0, 1.0, 0.5, 0.0, 0.0]


def test_users_are_recommended_the_unseen_items_of_their_taste_group():
    sequences = two_taste_groups()
    model = EASERecommender().fit(coded(sequences), EASEConfig(l2=10.0))
    scores = masked_scores(model, sequences)
    top2 = np.argsort(-scores, axis=1)[:, :2]
    for user, best in enumerate(top2):
        half = set(range(10)) if user < 10 else set(range(10, 20))
        assert set(best) == half - set(sequences[user])


def test_select_keeps_the_validated_setting_and_records_the_grid():
    sequences = two_taste_groups()
    histories = [s[:-1] for s in sequences]
    targets = np.array([s[-1] for s in sequences])
    model = EASERecommender().fit(coded(histories))
    record = model.select(Holdout.of(histories, targets), l2_grid=(0.5, 50.0), decay_grid=(0.5, 1.0))
    assert len(record["grid"]) == 4
    assert abs(record["valid_NDCG@10"] - max(record["grid"].values())) < 1e-4  # the grid is rounded
    assert (model.config.l2, model.config.decay) == (record["l2"], record["decay"])
    refit = EASERecommender().fit(coded(histories), model.config)
    assert np.allclose(refit.item_vectors(), model.item_vectors())


def test_refuses_catalogs_too_large_to_invert():
    with pytest.raises(ValueError, match="items"):
        EASERecommender().fit(coded([], n_items=50_000))


def test_a_rank_below_the_catalog_serves_the_best_low_rank_approximation_and_survives_a_reload(tmp_path):
    sequences = two_taste_groups()
    full = EASERecommender().fit(coded(sequences), EASEConfig(l2=10.0, rank=None))
    low = EASERecommender().fit(coded(sequences), EASEConfig(l2=10.0, rank=6))
    assert low.item_vectors().shape == (20, 6) and low.user_vectors([[0, 1]]).shape == (1, 6) and low.vector_dim == 6
    u, s, vt = np.linalg.svd(full.weights)
    best = (u[:, :6] * s[:6]) @ vt[:6]  # Eckart–Young: the closest rank-6 matrix
    assert np.allclose(low.factors[0] @ low.factors[1].T, best, atol=1e-8)
    query = [[3, 5, 1]]
    assert np.allclose(low.user_vectors(query) @ low.item_vectors().T, full.user_vectors(query) @ best, atol=1e-8)
    low.save(tmp_path)
    again = EASERecommender.load(tmp_path)
    assert np.allclose(again.user_vectors(query) @ again.item_vectors().T,
                       low.user_vectors(query) @ low.item_vectors().T, atol=1e-5)  # stored as float32


def test_the_gram_matrix_is_the_same_whatever_the_user_chunk():
    sequences = two_taste_groups()
    whole = EASERecommender().fit(coded(sequences), EASEConfig(l2=10.0))
    chunked = EASERecommender().fit(coded(sequences), EASEConfig(l2=10.0), chunk=3)
    assert np.array_equal(whole.gram, chunked.gram)
    assert np.allclose(whole.item_vectors(), chunked.item_vectors())


def test_with_a_holdout_fit_chooses_lambda_and_decay_on_it():
    sequences = two_taste_groups()
    histories, targets = [s[:-1] for s in sequences], [s[-1] for s in sequences]
    model = EASERecommender().fit(coded(histories, valid=Holdout.of(histories, targets)))
    assert (model.config.l2, model.config.decay) == (model.metrics["l2"], model.metrics["decay"])
    assert len(model.metrics["grid"]) == 12  # the default λ × decay grid
