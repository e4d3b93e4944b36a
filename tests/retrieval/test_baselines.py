"""Popularity and BPR: the reference points every learned retriever is compared with."""

import numpy as np
import pytest

from llmrec.errors import TrainingError
from llmrec.retrieval.baselines import (BPRConfig, BPRRecommender, PopularityConfig, PopularityRecommender,
                                        sample_negatives)
from llmrec.retrieval.protocol import Holdout, TrainingData
from llmrec.testing.retrieval_contract import RetrievalModelContract


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/retrieval/conftest.py


TINY_BPR = dict(dim=4, epochs=40, batch_size=64, lr=0.05, weight_decay=0.05, seed=0, patience=0)


def two_taste_groups() -> list[list[int]]:
    """Users 0-9 consume items from 0-9, users 10-19 from 10-19; each user skips two items of their half."""
    rng = np.random.default_rng(0)
    sequences = []
    for user in range(20):
        half = np.arange(10) + (10 if user >= 10 else 0)
        sequences.append(rng.permutation(half)[:8].tolist())
    return sequences


def coded(sequences, n_items: int = 20, valid=None) -> TrainingData:
    return TrainingData.of([f"i{i}" for i in range(n_items)], sequences, valid)


class TestPopularityContract(RetrievalModelContract):
    personal = False
    seeded = False

    def make_model(self):
        return PopularityRecommender()

    def make_config(self):
        return PopularityConfig()


class TestBPRContract(RetrievalModelContract):
    transductive = True

    def make_model(self):
        return BPRRecommender()

    def make_config(self):
        return BPRConfig(**TINY_BPR)


def test_popularity_ranks_items_by_training_count():
    model = PopularityRecommender().fit(coded([[0, 1, 1], [1, 2]], n_items=4))
    np.testing.assert_array_equal(model.score([[], [3]]), [[1, 3, 1, 0], [1, 3, 1, 0]])
    assert model.user_vectors([[]]).shape == (1, 1) and model.item_vectors().shape == (4, 1)


def test_bpr_prefers_unseen_items_of_the_users_own_taste_group():
    sequences = two_taste_groups()
    model = BPRRecommender().fit(coded(sequences), BPRConfig(**TINY_BPR))
    scores = model.score(sequences, users=list(range(20)))  # (20, 20)
    for user, seen in enumerate(sequences):
        own = set(range(10)) if user < 10 else set(range(10, 20))
        unseen_own = sorted(own - set(seen))
        other = sorted(set(range(20)) - own)
        assert scores[user, unseen_own].min() > scores[user, other].max()


def test_bpr_vectors_reproduce_its_scores_with_the_bias_folded_in():
    model = BPRRecommender().fit(coded(two_taste_groups()), BPRConfig(**{**TINY_BPR, "epochs": 2}))
    users, items = model.user_vectors([[], []], users=[0, 5]), model.item_vectors()
    assert users.shape == (2, 5) and items.shape == (20, 5)
    assert (users[:, -1] == 1).all()
    expected = model.users[[0, 5]].numpy() @ model.items.numpy().T + model.bias.numpy()[None]
    np.testing.assert_allclose(users @ items.T, expected, rtol=1e-5, atol=1e-6)


def test_bpr_training_is_reproducible_from_the_seed():
    config = BPRConfig(**{**TINY_BPR, "epochs": 3})
    first = BPRRecommender().fit(coded(two_taste_groups()), config)
    second = BPRRecommender().fit(coded(two_taste_groups()), config)
    np.testing.assert_array_equal(first.item_vectors(), second.item_vectors())


def test_bpr_negatives_are_never_items_the_user_consumed():
    sequences = two_taste_groups()
    user_of = np.repeat(np.arange(len(sequences)), [len(s) for s in sequences])
    item_of = np.concatenate(sequences)
    seen = np.unique(user_of * 20 + item_of)
    negatives = sample_negatives(20, user_of, seen, np.random.default_rng(0))
    assert not np.isin(user_of * 20 + negatives, seen).any()


def test_bpr_needs_training_rows_to_score_users():
    model = BPRRecommender().fit(coded(two_taste_groups()), BPRConfig(**{**TINY_BPR, "epochs": 1}))
    with pytest.raises(TrainingError, match="users"):
        model.user_vectors([[1, 2]])


def test_bpr_early_stopping_keeps_the_best_epoch():
    sequences = two_taste_groups()
    histories = [s[:-1] for s in sequences]
    targets = [s[-1] for s in sequences]
    train = [s[:-1] for s in sequences]
    model = BPRRecommender().fit(coded(train, valid=Holdout.of(histories, targets, list(range(20)))),
                                 BPRConfig(**{**TINY_BPR, "patience": 2}))
    best = max(r["valid_ndcg10"] for r in model.history)
    assert model.metrics["valid_ndcg10"] == best


def test_bpr_validation_needs_the_holdouts_training_rows():
    sequences = two_taste_groups()
    with pytest.raises(TrainingError, match="rows"):
        BPRRecommender().fit(coded(sequences, valid=Holdout.of(sequences, [0] * 20)), BPRConfig(**TINY_BPR))
