"""The sequential model: it learns sequential structure, its vectors are its scores, and it round-trips to disk.

Tests that take the ``trained`` fixture run for every architecture (SASRec attention, LRURec recurrence, and the
two side by side).
"""

import json

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from llmrec.errors import ModelNotFoundError, TrainingError
from llmrec.evaluation.metrics import ndcg_at_k, recall_at_k
from llmrec.retrieval.collaborative import to_cosine_space
from llmrec.retrieval.protocol import Holdout, TrainingData, full_ranking_ranks
from llmrec.retrieval.sequential import SequentialConfig, SequentialRecommender
from llmrec.retrieval.sequential.training import validation_ndcg
from llmrec.testing.retrieval_contract import RetrievalModelContract


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/retrieval/conftest.py


N_ITEMS = 20
TINY = dict(dim=16, layers=1, heads=2, max_len=8, dropout=0.0, epochs=10, batch_size=16, lr=0.01,
            weight_decay=0.0, seed=0, patience=0)


def successor_sequences(n: int = 64, length: int = 10, seed: int = 0) -> list[list[int]]:
    """Item i is always followed by item i+1 (mod N_ITEMS), from random starting items."""
    rng = np.random.default_rng(seed)
    return [[(start + t) % N_ITEMS for t in range(length)] for start in rng.integers(0, N_ITEMS, n)]


def item_ids() -> list[str]:
    return [f"item{i}" for i in range(N_ITEMS)]


def coded(sequences, valid=None) -> TrainingData:
    """Training data over the test vocabulary; ``valid`` = (histories, targets)."""
    return TrainingData.of(item_ids(), sequences, None if valid is None else Holdout.of(*valid))


class TestSequentialContract(RetrievalModelContract):
    def make_model(self):
        return SequentialRecommender()

    def make_config(self):
        return SequentialConfig(**{**TINY, "epochs": 30, "dim": 8, "heads": 1}, architecture="lru+sasrec")


class TestSASRecContract(TestSequentialContract):
    def make_config(self):
        return SequentialConfig(**{**TINY, "epochs": 30, "dim": 8, "heads": 1}, architecture="sasrec")


class TestLRUContract(TestSequentialContract):
    def make_config(self):
        return SequentialConfig(**{**TINY, "epochs": 30, "dim": 8, "heads": 1}, architecture="lru")


@pytest.fixture(scope="module", params=["sasrec", "lru", "lru+sasrec"])
def trained(one_torch_thread, request) -> SequentialRecommender:
    config = SequentialConfig(**TINY, architecture=request.param)
    return SequentialRecommender().fit(coded(successor_sequences()), config)


def test_model_learns_that_each_item_is_followed_by_the_next(trained):
    histories = successor_sequences(n=40, length=5, seed=1)
    targets = np.array([(h[-1] + 1) % N_ITEMS for h in histories])
    ranks = full_ranking_ranks(trained, histories, targets)
    assert recall_at_k(ranks, 1) >= 0.9


def test_untrained_model_does_not_know_the_pattern():
    model = SequentialRecommender.initialised(item_ids(), SequentialConfig(**TINY))
    histories = successor_sequences(n=40, length=5, seed=1)
    targets = np.array([(h[-1] + 1) % N_ITEMS for h in histories])
    assert recall_at_k(full_ranking_ranks(model, histories, targets), 1) < 0.5


def test_score_is_user_vector_dot_item_vector(trained):
    histories = [[1, 2, 3], [7]]
    users, items = trained.user_vectors(histories), trained.item_vectors()
    width = trained.vector_dim  # dim (twice that for the pair) + the item-bias coordinate
    assert width == (2 if trained.config.architecture == "lru+sasrec" else 1) * TINY["dim"] + 1
    assert users.shape == (2, width) and items.shape == (N_ITEMS, width)
    # The network's own logits for the next item equal the dot products a vector store would compute.
    with torch.no_grad():
        hidden = trained.network(torch.tensor([[2, 3, 4]]))[:, -1]  # codes shifted by one: 0 is padding
        logits = trained.network.logits(hidden).numpy()
    np.testing.assert_allclose(users[:1] @ items.T, logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(trained.score(histories), users @ items.T, rtol=1e-6)


def test_user_vector_does_not_depend_on_the_other_histories_in_the_batch(trained):
    alone = trained.user_vectors([[4, 5]])
    batched = trained.user_vectors([[4, 5], list(range(8)), [9]])
    np.testing.assert_allclose(alone[0], batched[0], rtol=1e-5, atol=1e-6)


def test_only_the_newest_max_len_items_count(trained):
    recent = [3, 4, 5, 6, 7, 8, 9, 10]  # max_len = 8
    np.testing.assert_allclose(trained.user_vectors([[0, 1, 2] + recent]), trained.user_vectors([recent]),
                               rtol=1e-5, atol=1e-6)


def test_empty_history_ranks_items_by_their_learned_bias(trained):
    vector = trained.user_vectors([[]])
    assert not vector[0, :-1].any() and vector[0, -1] == 1.0
    np.testing.assert_allclose(trained.score([[]])[0], trained.network.item_bias.detach().numpy(), rtol=1e-6)


def test_training_is_reproducible_from_the_seed_and_leaves_global_rng_alone():
    config = SequentialConfig(**{**TINY, "epochs": 2, "dropout": 0.2})
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = SequentialRecommender().fit(coded(successor_sequences()), config)
    after_fit = torch.rand(3)
    second = SequentialRecommender().fit(coded(successor_sequences()), config)
    np.testing.assert_array_equal(first.item_vectors(), second.item_vectors())
    assert torch.equal(after_fit, expected_next)


def test_early_stopping_keeps_the_best_validation_epoch():
    config = SequentialConfig(**{**TINY, "epochs": 30, "patience": 3})
    histories = successor_sequences(n=20, length=5, seed=2)
    targets = [(h[-1] + 1) % N_ITEMS for h in histories]
    model = SequentialRecommender().fit(coded(successor_sequences(), (histories, targets)), config)
    best = max(r["valid_ndcg10"] for r in model.history)
    assert model.metrics["valid_ndcg10"] == best
    assert model.metrics["best_epoch"] == next(r["epoch"] for r in model.history if r["valid_ndcg10"] == best)
    assert model.metrics["epochs_run"] == len(model.history) <= config.epochs


def test_encode_maps_external_ids_and_drops_unknown_items(trained):
    assert trained.encode([["item3", "new-item", "item0"]]) == [[3, 0]]


def test_save_and_load_round_trip_gives_identical_vectors(trained, tmp_path):
    trained.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["manifest.json", "model.safetensors"]
    loaded = SequentialRecommender.load(tmp_path / "model")
    histories = [[1, 2, 3], [5], [0, 19, 18, 17]]
    np.testing.assert_array_equal(loaded.user_vectors(histories), trained.user_vectors(histories))
    np.testing.assert_array_equal(loaded.item_vectors(), trained.item_vectors())
    assert loaded.item_ids == trained.item_ids
    assert loaded.config == trained.config


def test_manifest_records_how_the_model_was_made(trained, tmp_path):
    trained.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config"] == trained.config.model_dump()
    assert manifest["item_ids"] == item_ids()
    assert manifest["data_hash"] == trained.data_hash and len(manifest["data_hash"]) == 16
    assert {"torch", "numpy", "python"} <= set(manifest["versions"])
    assert manifest["metrics"]["epochs_run"] == TINY["epochs"]
    assert manifest["created"]


def saved_with_edited_manifest(model: SequentialRecommender, folder, edit) -> None:
    """``model`` saved to ``folder``, then its manifest changed in place by ``edit``: what another llmrec wrote."""
    model.save(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_load_warns_on_unknown_manifest_keys(trained, tmp_path):
    saved_with_edited_manifest(trained, tmp_path, lambda manifest: manifest.update(added_by_a_newer_version=1))
    with pytest.warns(UserWarning, match="added_by_a_newer_version"):
        SequentialRecommender.load(tmp_path)


def test_load_fails_on_missing_required_manifest_keys(trained, tmp_path):
    saved_with_edited_manifest(trained, tmp_path, lambda manifest: manifest.pop("item_ids"))
    with pytest.raises(TrainingError, match="item_ids"):
        SequentialRecommender.load(tmp_path)


def test_load_fails_when_weights_do_not_fit_the_vocabulary(trained, tmp_path):
    saved_with_edited_manifest(trained, tmp_path,
                               lambda manifest: manifest.update(item_ids=manifest["item_ids"][:-1]))
    with pytest.raises(TrainingError, match="do not match"):
        SequentialRecommender.load(tmp_path)


def test_load_of_a_missing_folder_says_what_is_missing(tmp_path):
    with pytest.raises(ModelNotFoundError, match="manifest.json"):
        SequentialRecommender.load(tmp_path / "nowhere")


def test_config_rejects_unknown_fields_and_bad_head_counts():
    with pytest.raises(ValidationError):
        SequentialConfig(dims=64)
    with pytest.raises(ValidationError):
        SequentialConfig(dim=30, heads=4)


def test_fit_rejects_out_of_range_codes():
    with pytest.raises(TrainingError, match="out of range"):
        SequentialRecommender().fit(coded([[0, N_ITEMS]]), SequentialConfig(**TINY))


def test_cosine_space_keeps_every_users_ranking(trained):
    users, items = trained.user_vectors([[1, 2], [9, 10, 11]]), trained.item_vectors()
    cos_users, cos_items = to_cosine_space(users, items)
    cosine = (cos_users / np.linalg.norm(cos_users, axis=1, keepdims=True)) @ (
        cos_items / np.linalg.norm(cos_items, axis=1, keepdims=True)).T
    for row in range(len(users)):
        assert np.argsort(-(users @ items.T)[row]).tolist() == np.argsort(-cosine[row]).tolist()


def test_lru_states_depend_only_on_earlier_items_and_not_on_padding():
    """The recurrence runs as an FFT convolution: it must stay causal and blind to left padding."""
    model = SequentialRecommender.initialised(item_ids(), SequentialConfig(**TINY, architecture="lru"))
    with torch.no_grad():
        base = model.network(torch.tensor([[0, 3, 4, 5, 6]]))
        changed_last = model.network(torch.tensor([[0, 3, 4, 5, 9]]))
        more_padding = model.network(torch.tensor([[0, 0, 0, 3, 4, 5, 6]]))
    torch.testing.assert_close(base[:, 1:4], changed_last[:, 1:4], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(base[:, 4], changed_last[:, 4])
    torch.testing.assert_close(base[:, 1:], more_padding[:, 3:], atol=1e-5, rtol=1e-5)


def test_a_manifest_written_before_architectures_existed_loads_as_sasrec(tmp_path):
    model = SequentialRecommender.initialised(item_ids(), SequentialConfig(**TINY, architecture="sasrec"))
    model.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    del manifest["config"]["architecture"]  # every model saved then was SASRec, whatever today's default is
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    loaded = SequentialRecommender.load(tmp_path)
    assert loaded.config.architecture == "sasrec"
    np.testing.assert_array_equal(loaded.item_vectors(), model.item_vectors())


def successor_validation(n: int = 30) -> tuple[list[list[int]], np.ndarray]:
    histories = successor_sequences(n=n, length=5, seed=2)
    return histories, np.array([(h[-1] + 1) % N_ITEMS for h in histories])


def test_the_pair_serves_the_mix_of_its_members_logits():
    model = SequentialRecommender().fit(coded(successor_sequences()),
                                        SequentialConfig(**{**TINY, "epochs": 3}, architecture="lru+sasrec"))
    histories = [[1, 2, 3], [7, 8]]
    model.network.mix.copy_(torch.tensor([0.7, 0.3]))
    members = []
    for index in (0, 1):
        with model.only_member(index):
            members.append(model.score(histories))
    assert model.network.mix.tolist() == pytest.approx([0.7, 0.3])  # reading a member leaves the mix as it was
    np.testing.assert_allclose(model.score(histories), 0.7 * members[0] + 0.3 * members[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(members[0], members[1])
    assert model.vector_dim == 2 * TINY["dim"] + 1


def test_only_a_pair_has_members_to_score_alone():
    for architecture in ("sasrec", "lru"):
        model = SequentialRecommender.initialised(item_ids(), SequentialConfig(**TINY, architecture=architecture))
        with pytest.raises(ValueError, match="only a lru\\+sasrec pair has members"):
            with model.only_member(0):
                pass


def test_validation_gives_no_weight_to_a_member_that_only_adds_noise():
    model = SequentialRecommender().fit(coded(successor_sequences()),
                                        SequentialConfig(**TINY, architecture="lru+sasrec"))
    lru, sasrec = model.network.members
    with torch.no_grad():
        sasrec.items.weight.normal_(std=10.0, generator=torch.Generator().manual_seed(0))
    score = validation_ndcg(model, Holdout.of(*successor_validation()))
    assert model.network.mix.tolist() == [1.0, 0.0]
    assert score >= 0.9


def test_the_validated_mix_is_saved_and_kept_by_a_refit(tmp_path):
    config = SequentialConfig(**{**TINY, "epochs": 4}, architecture="lru+sasrec")
    validated = SequentialRecommender().fit(coded(successor_sequences(), successor_validation()), config)
    chosen = validated.network.mix.tolist()
    assert np.isclose(np.linspace(0, 1, 11), chosen[0]).any() and chosen[0] + chosen[1] == pytest.approx(1.0)
    ranks = full_ranking_ranks(validated, *successor_validation())
    assert ndcg_at_k(ranks, 10) == pytest.approx(validated.metrics["valid_ndcg10"])  # what was chosen is served
    validated.save(tmp_path)
    assert SequentialRecommender.load(tmp_path).network.mix.tolist() == chosen
    refit = validated.refit(coded(successor_sequences()))
    assert refit.network.mix.tolist() == chosen
    assert refit.metrics["epochs_run"] == validated.metrics["best_epoch"]


def test_refit_needs_a_validated_run_to_replay():
    unvalidated = SequentialRecommender().fit(coded(successor_sequences()), SequentialConfig(**{**TINY, "epochs": 1}))
    with pytest.raises(TrainingError, match="fitted with validation"):
        unvalidated.refit(coded(successor_sequences()))
