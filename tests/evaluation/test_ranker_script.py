"""The ranker protocol (``llmrec.evaluation.ranker``): the LLM ranker re-ranks the retriever's top-20 on the LlamaRec
protocol, base vs adapter."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from llmrec.errors import CatalogError
from llmrec.evaluation.candidates import CatalogItems
from llmrec.evaluation.ranker import run, scoring
from llmrec.testing.catalogs import write_tiny_movielens


@pytest.fixture(scope="module")
def script():
    return SimpleNamespace(main=run.main, training_examples=run.training_examples, N_CANDIDATES=run.N_CANDIDATES,
                           fused_ranks=scoring.fused_ranks, best_prior=scoring.best_prior)


def write_movielens(folder: Path) -> Path:
    return write_tiny_movielens(folder)


def test_fusing_with_the_retriever_prior_moves_only_close_calls(script):
    # Columns are the retriever's order; the target sits in column 2.
    logprobs = np.array([[-1.0, -1.2, -0.9, -5.0]])
    assert script.fused_ranks(logprobs, np.array([2]), 0.0)[0] == 0       # the LLM alone puts it first
    assert script.fused_ranks(logprobs, np.array([2]), 1.0)[0] == 2       # a strong prior restores retriever order
    w, curve = script.best_prior(logprobs, np.array([2]))
    assert w == 0.0 and curve["0.0"] == 1.0


def test_validated_prior_prefers_the_smallest_weight_among_equals(script):
    logprobs = np.zeros((3, 5))  # an LLM with no opinion: every weight > 0 gives the retriever's order
    w, curve = script.best_prior(logprobs, np.array([0, 0, 0]))
    assert w == 0.25 and curve["0.25"] == 1.0 and curve["0.0"] < 1.0
    w, curve = script.best_prior(logprobs, np.array([0, 0, 0]), extra=[0.1])  # e.g. an adapter's training weight
    assert w == 0.1 and list(curve)[:3] == ["0.0", "0.1", "0.25"]


def test_training_examples_never_use_the_validation_or_test_item(script, tmp_path):
    from llmrec.catalog.movielens import read_movielens
    from llmrec.config import RankerConfig
    from llmrec.evaluation.protocols import build_dataset
    from llmrec.prompts import default_library
    from llmrec.ranking.ranker import LLMRanker
    from llmrec.training.run import ChatFormatter

    class PopularityRetriever:  # a real CollaborativeModel, just a trivial one: the examples are under test here
        def __init__(self, n):
            self.n = n

        def user_vectors(self, histories, users=None):
            return np.ones((len(histories), 1))

        def item_vectors(self):
            return np.arange(self.n, dtype=float)[:, None]

    folder = write_movielens(tmp_path / "ml")
    catalog, interactions = read_movielens(folder)
    data = build_dataset(interactions, tie_break="item")
    ranker = LLMRanker(ChatFormatter("smollm2-135m"), default_library(), RankerConfig(retrieval_prior=0))
    class ReversePopularity(PopularityRetriever):  # the evidence model: a second opinion, here the opposite one
        def item_vectors(self):
            return -super().item_vectors()

    examples = script.training_examples(PopularityRetriever(data.n_items), ReversePopularity(data.n_items), data,
                                        CatalogItems(catalog), ranker, per_user=3)
    assert len(examples) == 3 * len(data.user_ids)
    held_out = {(data.user_ids[u], data.item_ids[int(v)]) for u, v in zip(data.eval_rows, data.valid)} | \
        {(data.user_ids[u], data.item_ids[int(t)]) for u, t in zip(data.eval_rows, data.test)}
    for e in examples:
        assert (e.user_id, e.target_id) not in held_out
        assert e.target_letter in e.letters and len(e.letters) == script.N_CANDIDATES
        assert f"{e.target_letter}. (similar users: " in e.prompt
        # the evidence model's top 10% of the twenty options, by its own order
        assert sum("(similar users: very high)" in line for line in e.prompt.splitlines()) == 2


def test_out_of_fold_examples_are_scored_by_an_ease_fitted_without_their_user(script, tmp_path, monkeypatch):
    from llmrec.catalog.movielens import read_movielens
    from llmrec.config import RankerConfig
    from llmrec.evaluation.candidates import ModelCandidates
    from llmrec.evaluation.protocols import build_dataset
    from llmrec.prompts import default_library
    from llmrec.ranking.ranker import LLMRanker
    from llmrec.retrieval.ease import EASERecommender
    from llmrec.training.run import ChatFormatter

    catalog, interactions = read_movielens(write_movielens(tmp_path / "ml"))
    data = build_dataset(interactions, tie_break="item")
    fitted_on, scored = {}, []
    fit, candidates = EASERecommender.fit, ModelCandidates.candidates

    def recording_fit(self, training, config=None, **kw):
        fitted_on[id(self)] = [s.tolist() for s in training.sequences]
        return fit(self, training, config, **kw)

    def recording_candidates(self, histories, n):
        scored.append((id(self.retriever), [list(h) for h in histories]))
        return candidates(self, histories, n)

    monkeypatch.setattr(EASERecommender, "fit", recording_fit)
    monkeypatch.setattr(ModelCandidates, "candidates", recording_candidates)
    everyone = EASERecommender().fit(data.training_data())
    ranker = LLMRanker(ChatFormatter("smollm2-135m"), default_library(), RankerConfig(retrieval_prior=0))
    examples = script.training_examples(everyone, everyone, data, CatalogItems(catalog), ranker, per_user=3,
                                        folds=3)
    assert len(scored) == 3 and all(model != id(everyone) for model, _ in scored)  # one refit per fold
    code = {item: c for c, item in enumerate(data.item_ids)}
    for model, histories in scored:
        for history in histories:  # no history is the start of a sequence its model was fitted on
            codes = [code[i] for i in history]
            assert not any(seq[:len(codes)] == codes for seq in fitted_on[model])
    assert sum(len(h) for _, h in scored) == 3 * len(data.user_ids)  # every user's cuts, each in one fold
    assert 0 < len(examples) <= 3 * len(data.user_ids)  # only cuts whose next item the fold's top-20 holds
    assert all(e.target_letter in e.letters and len(e.letters) == script.N_CANDIDATES for e in examples)
    record = {}  # what the report says about the cuts: how many, and how many each way of scoring finds
    again = script.training_examples(everyone, everyone, data, CatalogItems(catalog), ranker, per_user=3, folds=3,
                                     record=record)
    assert [e.prompt for e in again] == [e.prompt for e in examples]
    assert record["cuts"] == 3 * len(data.user_ids) and record["out_of_fold_hits"] == len(examples)
    assert 0 <= record["in_sample_hits"] <= record["cuts"]


def test_folds_need_training_on_the_ease_retriever(script, tmp_path, capsys):
    with pytest.raises(SystemExit):
        script.main(["--data", str(tmp_path), "--folds", "3", "--retriever", "ease"])
    assert "--folds refits EASE per fold" in capsys.readouterr().err


def test_script_trains_an_adapter_and_reports_it_beside_base_and_retriever(script, tmp_path):
    data = write_movielens(tmp_path / "ml")
    out = tmp_path / "results"
    adapter = tmp_path / "adapters" / "tiny"
    argv = ["--data", str(data), "--train", str(adapter), "--max-train-examples", "4", "--valid-users", "2",
            "--test-users", "2", "--sampled-users", "2", "--out", str(out), "--cache", str(tmp_path / "cache")]
    assert script.main(argv) == 0
    manifest = json.loads((adapter / "manifest.json").read_text())
    assert manifest["training_data"]["protocol"].startswith("LlamaRec")
    assert manifest["metrics"]["train_examples"] == 4
    report = json.loads((out / "ml-latest-small-llamarec-ranker.json").read_text())
    rows = report["test"]["rows"]
    assert "retriever (SASRec order)" in rows and any(r.startswith("adapter ranker") for r in rows)
    assert any(r.startswith("base ranker") for r in rows)
    assert report["test"]["users_target_in_top20"] <= 2
    # Users outside the top-20 keep the retriever's rank, so Recall@20 cannot change by re-ranking.
    assert len({row["full"]["Recall@20"] for row in rows.values()}) == 1
    assert set(report["sampled20"]) == {"base", "adapter", "random (exact)"}
    assert report["retriever"]["loaded_from_cache"] is False
    md = (out / "ml-latest-small-llamarec-ranker.md").read_text()
    assert "N@10 inside top-20" in md and "LlamaRec (Llama-2-7B QLoRA, published)" in md
    # A second run evaluates the trained adapter and reuses the fitted retriever.
    assert script.main(["--data", str(data), "--adapter", str(adapter), "--valid-users", "2", "--test-users", "1",
                        "--sampled-users", "0", "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    again = json.loads((out / "ml-latest-small-llamarec-ranker.json").read_text())
    assert again["retriever"]["loaded_from_cache"] is True and again["sampled20"] == {}


def test_an_adapter_trained_as_a_residual_is_validated_at_its_training_weight_too(script, tmp_path, capsys):
    data = write_movielens(tmp_path / "ml")
    out, adapter = tmp_path / "results", tmp_path / "adapters" / "residual"
    assert script.main(["--data", str(data), "--retriever", "ease", "--train", str(adapter), "--train-prior", "0.75",
                        "--max-train-examples", "4", "--valid-users", "2", "--test-users", "2", "--sampled-users",
                        "0", "--out", str(out)]) == 0
    manifest = json.loads((adapter / "manifest.json").read_text())
    assert manifest["config"]["train"]["retrieval_prior"] == 0.75
    report = json.loads((out / "ml-latest-small-llamarec-ranker.json").read_text())
    assert report["training"]["prior"] == 0.75
    assert all("0.75" in curve for curve in report["validation"]["prior_curves"].values())
    assert "trained as a residual over the retriever's order" in (out / "ml-latest-small-llamarec-ranker.md"
                                                                  ).read_text()
    with pytest.raises(SystemExit):  # how an adapter trains means nothing without training one
        script.main(["--data", str(data), "--train-prior", "1"])
    assert "--train-prior sets how an adapter is trained" in capsys.readouterr().err


def test_missing_data_is_one_clear_line(script, tmp_path):
    with pytest.raises(CatalogError, match="data not found"):
        script.main(["--data", str(tmp_path / "nowhere")])
