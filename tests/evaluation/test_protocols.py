"""The LlamaRec and sampled-20 protocols on tiny logs with models whose scores are known."""

import numpy as np
import pytest

from llmrec.catalog.interactions import InteractionLog
from llmrec.catalog.schema import Interaction
from llmrec.evaluation.protocols import build_dataset, evaluate_full_ranking, evaluate_sampled, sample_candidates
from llmrec.retrieval.protocol import masked_scores


class FixedScores:
    """Every user gets the same scores (a stand-in with a known ranking, not a mock of the harness)."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=float)

    def user_vectors(self, histories, users=None):
        return np.ones((len(histories), 1))

    def item_vectors(self):
        return self.scores[:, None]


def chain_log(users: int = 4, length: int = 6) -> list[Interaction]:
    """User u consumes items u, u+1, ..., at increasing times (ids are strings of ints)."""
    rows = []
    for u in range(users):
        for t in range(length):
            rows.append(Interaction(user_id=f"u{u}", item_id=str(u + t), timestamp=float(t), row=len(rows)))
    return rows


def wide_log() -> list[Interaction]:
    """Three short chains plus two users with 40 items each, so every user has at least 19 unseen items."""
    rows = chain_log(users=3, length=5)
    for n, first in enumerate((10, 50)):
        rows += [Interaction(user_id=f"wide{n}", item_id=str(i), timestamp=float(i), row=100 * (n + 1) + i)
                 for i in range(first, first + 40)]
    return rows


@pytest.fixture
def data():
    return build_dataset(InteractionLog.from_events(chain_log()), tie_break="row", min_user=1, min_item=1)


def test_dataset_holds_out_the_last_two_items(data):
    assert data.item_ids == [str(i) for i in range(9)]
    assert data.train[0] == [0, 1, 2, 3]
    assert data.valid[0] == 4 and data.test[0] == 5
    assert data.stats == {"users": 4, "items": 9, "interactions": 24}


def test_test_input_includes_the_validation_item(data):
    valid_histories, valid_targets = data.inputs("valid")
    test_histories, test_targets = data.inputs("test")
    assert valid_histories[0] == [0, 1, 2, 3] and valid_targets[0] == 4
    assert test_histories[0] == [0, 1, 2, 3, 4] and test_targets[0] == 5


def test_a_refit_trains_on_the_validation_items_but_never_sees_a_test_item(data):
    full = data.train_with_validation()
    assert full[0] == [0, 1, 2, 3, 4]
    assert full == [data.train[u] + [int(v)] for u, v in zip(data.eval_rows, data.valid)]  # test items stay out
    assert data.train[0] == [0, 1, 2, 3]  # the split itself is untouched


def test_history_items_are_masked_out_of_the_ranking(data):
    scores = masked_scores(FixedScores(np.arange(9.0)), [[0, 8]])
    assert scores[0, 0] == -np.inf and scores[0, 8] == -np.inf
    assert scores[0, 7] == 7.0


def test_full_ranking_skips_masked_history_when_ranking_the_target(data):
    # Items ranked by id descending: 8 first. User 0's test target is item 5; history 0..4 is masked, so the
    # items ahead of 5 are 8, 7, 6: rank 3.
    result = evaluate_full_ranking(FixedScores(np.arange(9.0)), data, "test", ks=(3, 4))
    assert result.ranks[0] == 3
    assert result.metrics["Recall@3"] < result.metrics["Recall@4"]


def test_llamarec_masking_leaves_history_older_than_its_input_window_rankable(data):
    # LlamaRec masks only the model input (the newest max_len items); its published numbers were measured that way.
    scores = masked_scores(FixedScores(np.arange(9.0)), [[8, 7, 0]], mask_last=2)
    assert scores[0, 8] == 8.0  # too old to be in the window: rankable again
    assert scores[0, 7] == -np.inf and scores[0, 0] == -np.inf
    # User 0's test input is 0..4 and its target 5; with only 3, 4 masked nothing older ranks above 5 except 8, 7, 6.
    window = evaluate_full_ranking(FixedScores(np.arange(9.0)), data, "test", ks=(3,), mask_last=2)
    whole = evaluate_full_ranking(FixedScores(np.arange(9.0)), data, "test", ks=(3,))
    assert window.ranks[0] == whole.ranks[0] == 3
    high_history = FixedScores(np.array([9.5, 9.4, 0, 0, 0, 1, 0, 0, 0]))  # the user's oldest items score highest
    assert evaluate_full_ranking(high_history, data, "test", ks=(3,), mask_last=2).ranks[0] == 2
    assert evaluate_full_ranking(high_history, data, "test", ks=(3,)).ranks[0] == 0


def test_sampled_candidates_exclude_everything_the_user_saw():
    data = build_dataset(InteractionLog.from_events(wide_log()), min_user=1, min_item=1)
    candidates = sample_candidates(data, "test", negatives=19, seed=3)
    assert candidates.shape == (5, 20)
    for j, row in enumerate(data.eval_rows):
        seen = set(data.train[row]) | {int(data.valid[j]), int(data.test[j])}
        assert candidates[j, 0] == data.test[j]
        assert not seen & set(candidates[j, 1:].tolist())
        assert len(set(candidates[j].tolist())) == 20


def test_sampled_candidates_are_reproducible_from_the_seed():
    big = build_dataset(InteractionLog.from_events(wide_log()), min_user=1, min_item=1)
    assert np.array_equal(sample_candidates(big, seed=1), sample_candidates(big, seed=1))
    assert not np.array_equal(sample_candidates(big, seed=1), sample_candidates(big, seed=2))


class TargetOracle:
    """Scores each user's own test target 1 and everything else 0, via per-user vectors."""

    def __init__(self, data):
        self.keys = np.zeros((data.n_items, len(data.user_ids)))
        self.keys[data.test, data.eval_rows] = 1.0

    def user_vectors(self, histories, users=None):
        return np.eye(self.keys.shape[1])[list(users)]

    def item_vectors(self):
        return self.keys


def test_sampled_protocol_puts_a_top_scored_target_first():
    big = build_dataset(InteractionLog.from_events(wide_log()), min_user=1, min_item=1)
    result = evaluate_sampled(TargetOracle(big), big, "test", negatives=19, seed=0)
    assert result.metrics["NDCG@1"] == 1.0
    assert result.ranks.tolist() == [0, 0, 0, 0, 0]


def test_sampled_protocol_gives_constant_scores_the_last_rank():
    big = build_dataset(InteractionLog.from_events(wide_log()), min_user=1, min_item=1)
    result = evaluate_sampled(FixedScores(np.zeros(big.n_items)), big, "test", negatives=19, seed=0)
    assert result.ranks.tolist() == [19, 19, 19, 19, 19]
