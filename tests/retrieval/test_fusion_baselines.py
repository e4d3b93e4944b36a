"""Content-profile and weighted-concatenation fusion baselines (llmrec.retrieval.fusion)."""

import numpy as np
import pytest

from llmrec.errors import TrainingError
from llmrec.retrieval.baselines import PopularityRecommender
from llmrec.retrieval.fusion import FusionConfig, FusionRecommender, ProfileConfig, ProfileRecommender
from llmrec.retrieval.protocol import TrainingData
from llmrec.testing.retrieval_contract import RetrievalModelContract, group_vectors, taste_group_data


class TestProfileContract(RetrievalModelContract):
    seeded = False

    def make_model(self):
        return ProfileRecommender(group_vectors())

    def make_config(self):
        return ProfileConfig(decay=0.5)


class TestFusionContract(RetrievalModelContract):
    seeded = False

    def make_model(self):
        data = taste_group_data()
        return FusionRecommender({"content": ProfileRecommender(group_vectors()).fit(data),
                                  "popularity": PopularityRecommender().fit(data)})

    def make_config(self):
        return FusionConfig(step=0.25)


def test_fusion_weights_need_a_validation_holdout():
    data = taste_group_data().without_validation()
    with pytest.raises(TrainingError, match="holdout"):
        FusionRecommender({"content": ProfileRecommender(group_vectors())}).fit(data)


def test_a_profile_checks_it_has_a_vector_per_item():
    with pytest.raises(ValueError, match="item vectors"):
        ProfileRecommender(np.eye(3)).fit(TrainingData.of(["a", "b"], [[0, 1]]))


def test_a_profile_leans_towards_the_most_recent_items():
    vectors = np.eye(3)  # item i points along axis i
    model = ProfileRecommender(vectors).fit(TrainingData.of(["a", "b", "c"], [[0, 1]]), ProfileConfig(decay=0.5))
    profile = model.user_vectors([[0, 1]])[0]
    assert profile[1] > profile[0] > 0 and profile[2] == 0
    assert np.linalg.norm(profile) == pytest.approx(1.0)


def test_items_without_a_vector_score_zero_and_an_empty_history_is_a_zero_profile():
    vectors = np.array([[1.0, 0.0], [0.0, 0.0], [0.6, 0.8]])
    model = ProfileRecommender(vectors)
    scores = model.user_vectors([[0], []]) @ model.item_vectors().T
    assert scores[0, 1] == 0 and scores[0, 0] == pytest.approx(1.0) and not scores[1].any()


class Fixed:
    """A block with given user and item vectors (one score matrix)."""

    def __init__(self, users, items):
        self.users, self.items = np.asarray(users, float), np.asarray(items, float)

    def user_vectors(self, histories, users=None):
        return self.users[: len(histories)]

    def item_vectors(self):
        return self.items


def test_fit_weights_puts_the_weight_on_the_block_that_finds_the_targets():
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    targets = rng.integers(10, n_items, n_users)
    informative = Fixed(np.eye(n_items)[targets] * 5.0, np.eye(n_items))  # scores the target highest
    noise = Fixed(rng.normal(size=(n_users, 4)), rng.normal(size=(n_items, 4)))
    fusion = FusionRecommender({"signal": informative, "noise": noise})
    search = fusion.fit_weights([[0, 1]] * n_users, targets)
    assert search["weights"]["signal"] >= 0.5 and search["valid_NDCG@10"] == pytest.approx(1.0)
    assert search["single_block_valid_NDCG@10"]["signal"] == pytest.approx(1.0)
    assert search["single_block_valid_NDCG@10"]["noise"] < 0.6


def test_the_fused_dot_product_is_the_weighted_sum_of_scaled_block_scores():
    a = Fixed([[1.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]])
    b = Fixed([[3.0]], [[1.0], [-1.0]])
    fusion = FusionRecommender({"a": a, "b": b}, weights={"a": 0.3, "b": 0.7}, scales={"a": 2.0, "b": 0.5})
    fused = fusion.user_vectors([[0]]) @ fusion.item_vectors().T
    expected = 0.3 * np.array([1.0, 2.0]) / 2.0 + 0.7 * np.array([3.0, -3.0]) / 0.5
    assert np.allclose(fused[0], expected)
