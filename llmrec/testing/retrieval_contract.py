"""The contract every retrieval model meets; each model's test module subclasses ``RetrievalModelContract``.

A subclass sets ``make_model`` (an unfitted model) and ``make_config`` (a small config of the model's own type), and
the flags that say what the model is: ``personal`` (scores depend on the user: not popularity), ``transductive``
(scores only users it was trained on, addressed by training row: BPR), ``seeded`` (training draws random numbers,
so the seed must make it reproducible). The data is two taste groups: users 0-9 consume items 0-9, users 10-19
items 10-19, each skipping two items of their half, with each user's last item held out for validation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec.retrieval.protocol import Holdout, RetrievalModel, TrainingData, masked_scores

N_USERS = N_ITEMS = 20


def taste_groups() -> list[list[int]]:
    rng = np.random.default_rng(0)
    return [rng.permutation(np.arange(10) + (10 if user >= 10 else 0))[:8].tolist() for user in range(N_USERS)]


def taste_group_data() -> TrainingData:
    """Training sequences without each user's last item, which the holdout validates on (user rows included)."""
    sequences = taste_groups()
    train = [s[:-1] for s in sequences]
    valid = Holdout.of(train, [s[-1] for s in sequences], list(range(N_USERS)))
    return TrainingData.of([f"item{i}" for i in range(N_ITEMS)], train, valid)


def group_vectors() -> np.ndarray:
    """(I, 2) content vectors saying which half an item belongs to: what a content model would know."""
    return np.array([[1.0, 0.0] if i < 10 else [0.0, 1.0] for i in range(N_ITEMS)])


class RetrievalModelContract:
    personal = True
    transductive = False
    seeded = True

    def make_model(self) -> RetrievalModel:
        raise NotImplementedError

    def make_config(self):
        raise NotImplementedError

    @pytest.fixture(scope="class")
    def data(self) -> TrainingData:
        return taste_group_data()

    @pytest.fixture(scope="class")
    def fitted(self, data):
        previous = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny models run fastest on one thread, and the suite shares a small CPU
        try:
            yield self.make_model().fit(data, self.make_config())
        finally:
            torch.set_num_threads(previous)

    def users(self, rows):
        return list(rows) if self.transductive else None

    def test_fit_takes_the_data_and_the_models_own_config_and_returns_the_model(self, data):
        model, config = self.make_model(), self.make_config()
        assert model.fit(data, config) is model
        assert isinstance(model, RetrievalModel)
        assert type(model.config) is type(config)

    def test_scores_are_one_dot_product_per_item(self, fitted, data):
        histories = [list(data.sequences[u]) for u in (0, 15)]
        users, items = fitted.user_vectors(histories, self.users([0, 15])), fitted.item_vectors()
        assert users.ndim == items.ndim == 2 and users.shape[0] == 2
        assert items.shape == (N_ITEMS, users.shape[1])
        assert np.isfinite(users).all() and np.isfinite(items).all()

    def test_a_users_vector_does_not_depend_on_the_rest_of_the_batch(self, fitted, data):
        alone = fitted.user_vectors([list(data.sequences[3])], self.users([3]))
        batch = fitted.user_vectors([list(data.sequences[u]) for u in (12, 3, 7)], self.users([12, 3, 7]))
        np.testing.assert_allclose(alone[0], batch[1], rtol=1e-5, atol=1e-6)

    def test_the_same_data_and_config_give_the_same_vectors(self, fitted, data):
        if self.seeded:
            torch.manual_seed(1234)  # the global RNG must not matter: the config's seed does
            np.random.seed(1234)
        again = self.make_model().fit(data, self.make_config())
        np.testing.assert_array_equal(again.item_vectors(), fitted.item_vectors())
        histories = [list(data.sequences[u]) for u in range(N_USERS)]
        np.testing.assert_array_equal(again.user_vectors(histories, self.users(range(N_USERS))),
                                      fitted.user_vectors(histories, self.users(range(N_USERS))))

    def test_fitting_leaves_the_global_random_state_alone(self, data):
        torch.manual_seed(7)
        np.random.seed(7)
        expected = torch.rand(2), np.random.random(2)
        torch.manual_seed(7)
        np.random.seed(7)
        self.make_model().fit(data, self.make_config())
        assert torch.equal(torch.rand(2), expected[0]) and np.array_equal(np.random.random(2), expected[1])

    def test_unseen_items_of_the_users_own_taste_group_rank_first(self, fitted, data):
        if not self.personal:
            pytest.skip("scores the same for every user")
        histories = [list(data.sequences[u]) for u in range(N_USERS)]
        scores = masked_scores(fitted, histories, self.users(range(N_USERS)))
        own = [int(np.argmax(row) < 10) == int(u < 10) for u, row in enumerate(scores)]
        assert np.mean(own) >= 0.9
