"""The LlamaRec protocol (``llmrec.evaluation.llamarec``) end to end on a tiny CSV log, and its message when data
is missing."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from llmrec.errors import CatalogError
from llmrec.evaluation.llamarec import methods, run
from llmrec.retrieval.sequential import SequentialRecommender


@pytest.fixture(scope="module")
def script():
    return SimpleNamespace(main=run.main, SEQUENTIALS=methods.SEQUENTIALS, PairMember=methods.PairMember,
                           ServedCandidates=methods.ServedCandidates)


@pytest.fixture
def restore_threads():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


def write_log(path: Path) -> Path:
    """30 users with 12 of 36 items each, every item used by 10 users: all survive 5-core, 24 unseen per user."""
    lines = ["user_id,item_id,timestamp"]
    for user in range(30):
        for t in range(12):
            lines.append(f"u{user},i{(user + 3 * t) % 36},{t}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_script_writes_json_markdown_and_plot_for_a_csv_log(script, tmp_path, restore_threads):
    log = write_log(tmp_path / "log.csv")
    out = tmp_path / "results"
    assert script.main(["--dataset", "csv", "--data", str(log), "--out", str(out), "--epochs", "1",
                        "--threads", "1", "--variants", "row"]) == 0
    report = json.loads((out / "csv-llamarec.json").read_text())
    assert report["counts"] == {"users": 30, "items": 36, "interactions": 360}
    assert set(report["results"]) == {"row"}
    for results in report["results"].values():
        # The default run: what a workspace serves (the pair fused with EASE), its parts and the baselines.
        assert set(results) == {"popularity", "bpr", "ease", "lru+sasrec", "lru+sasrec/lru", "lru+sasrec/sasrec",
                                "lru+sasrec+ease"}
        assert results["ease"]["config"]["l2"] > 0 and 0 < results["ease"]["config"]["decay"] <= 1
        for result in results.values():
            assert 0.0 <= result["test"]["Recall@10"] <= 1.0
            assert len(result["test_recall_curve"]) == 50
        assert results["lru+sasrec"]["config"]["architecture"] == "lru+sasrec"
        assert results["lru+sasrec"]["config"]["patience"] == 5  # stops as a workspace does
        weights = results["lru+sasrec+ease"]["fusion"]["weights"]
        assert set(weights) == {"lru+sasrec", "ease"} and abs(sum(weights.values()) - 1) < 1e-9
    md = (out / "csv-llamarec.md").read_text()
    assert "| lru+sasrec/sasrec (ours) |" in md and "| lru+sasrec+ease (ours) |" in md
    assert "`lru+sasrec+ease` weights" in md
    assert (out / "csv-llamarec-recall.png").stat().st_size > 0


def test_a_pair_member_scores_as_that_member_alone_and_leaves_the_pair_as_it_was(script, tmp_path):
    from llmrec.catalog.readers import read_interactions
    from llmrec.evaluation.protocols import build_dataset

    log = write_log(tmp_path / "log.csv")
    data = build_dataset(read_interactions(log, strict=True).interactions, tie_break="item")
    config = script.SEQUENTIALS["lru+sasrec"].model_copy(update={"epochs": 1, "seed": 0})
    pair = SequentialRecommender().fit(data.training_data(), config)
    histories, _ = data.inputs("test")
    w = float(pair.network.mix[0])
    before = pair.score(histories)
    lru, sasrec = (script.PairMember(pair, i) for i in (0, 1))
    alone = [m.user_vectors(histories) @ m.item_vectors().T for m in (lru, sasrec)]
    # The pair's logits are exactly the mix of its members' logits, and reading a member changes nothing.
    np.testing.assert_allclose(before, w * alone[0] + (1 - w) * alone[1], rtol=1e-4, atol=1e-4)
    assert not np.allclose(alone[0], alone[1])
    np.testing.assert_array_equal(pair.score(histories), before)


def test_the_pair_runs_on_request_and_refit_tests_a_model_trained_on_the_validation_items(script, tmp_path,
                                                                                           restore_threads):
    log = write_log(tmp_path / "log.csv")
    out = tmp_path / "results"
    assert script.main(["--dataset", "csv", "--data", str(log), "--out", str(out), "--epochs", "2", "--threads", "1",
                        "--variants", "item", "--methods", "lru,lru+sasrec,lru+sasrec/sasrec,ease,lru+sasrec+ease",
                        "--refit",
                        "--tag", "pair"]) == 0
    assert not (out / "csv-llamarec.json").exists()  # a refit run does not overwrite the protocol's report
    report = json.loads((out / "csv-llamarec-refit-pair.json").read_text())
    assert report["protocol"]["refit_on_train_and_validation"] is True
    results = report["results"]["item"]
    assert results["lru+sasrec"]["config"]["architecture"] == "lru+sasrec"
    assert 0.0 <= results["lru+sasrec"]["training"]["mix_lru"] <= 1.0
    for name, result in results.items():
        if name in ("lru", "lru+sasrec"):
            assert result["refit"]["epochs"] == result["training"]["best_epoch"] >= 1
        assert 0.0 <= result["refit"]["test_without_refit"]["Recall@10"] <= 1.0
    weights = results["lru+sasrec+ease"]["fusion"]["weights"]
    assert set(weights) == {"lru+sasrec", "ease"} and abs(sum(weights.values()) - 1) < 1e-9
    # The member is read from the refitted pair, so its test differs from the held-out pair's member.
    member = results["lru+sasrec/sasrec"]
    assert member["test"] != member["refit"]["test_without_refit"]
    md = (out / "csv-llamarec-refit-pair.md").read_text()
    assert (out / "csv-llamarec-refit-pair-recall.png").stat().st_size > 0
    assert "| lru+sasrec (ours) |" in md and "`--refit`" in md
    assert re.search(r"Refits, .*lru \d+ epochs in \d+ s, without refit", md)


def test_script_says_where_it_looked_when_data_is_missing(script, tmp_path):
    with pytest.raises(CatalogError, match="data not found: .*nowhere"):
        script.main(["--data", str(tmp_path / "nowhere")])


def write_movielens_with_posters(folder: Path) -> tuple[Path, Path]:
    """30 users × 12 of 36 films; genres repeat every 3 films, posters (drawn) for every other film."""
    from PIL import Image

    folder.mkdir(parents=True)
    genres = ["Drama", "Comedy", "Sci-Fi"]
    (folder / "movies.csv").write_text("movieId,title,genres\n" + "".join(
        f"{m},Film {m} ({1980 + m}),{genres[m % 3]}\n" for m in range(1, 37)))
    rows = ["userId,movieId,rating,timestamp"] + [f"{u},{(u + 3 * t) % 36 + 1},4.0,{1000 + t}"
                                                  for u in range(1, 31) for t in range(12)]
    (folder / "ratings.csv").write_text("\n".join(rows) + "\n")
    posters = folder.parent / "posters"
    posters.mkdir()
    for m in range(1, 37, 2):
        Image.new("RGB", (60, 90), ((m * 40) % 256, 80, 200 - m * 5)).save(posters / f"{m}.jpg")
    return folder, posters


def test_content_and_fusion_baselines_run_in_the_same_harness(script, tmp_path, restore_threads):
    data, posters = write_movielens_with_posters(tmp_path / "ml")
    out = tmp_path / "results"
    # Named ml-1m so the ml-latest-small count check (610 users) does not apply; the folder is latest-small shaped.
    assert script.main(["--dataset", "ml-1m", "--data", str(data), "--posters", str(posters),
                        "--out", str(out), "--epochs", "1", "--threads", "1", "--variants", "item",
                        "--methods", "lru+sasrec,text,image,fusion,served", "--refit"]) == 0
    report = json.loads((out / "ml-1m-llamarec-refit.json").read_text())
    results = report["results"]["item"]
    assert set(results) == {"lru+sasrec", "text", "image", "fusion", "served"}
    for result in results.values():  # every row also measured with LlamaRec's masking (newest 200 items only)
        assert 0.0 <= result["test_llamarec_mask"]["Recall@10"] <= 1.0
    assert report["poster_coverage"] == 0.5
    weights = results["fusion"]["fusion"]["weights"]
    assert set(weights) == {"text", "image", "lru+sasrec", "ease"} and abs(sum(weights.values()) - 1) < 1e-9
    # Refitted, the fusion is tested over the refitted collaborative blocks (this toy log is too regular for the
    # two to score differently), and the held-out fusion's own test numbers are kept beside it.
    assert results["fusion"]["refit"]["seconds"] >= 0
    assert 0.0 <= results["fusion"]["refit"]["test_without_refit"]["Recall@10"] <= 1.0
    md = (out / "ml-1m-llamarec-refit.md").read_text()
    assert re.search(r"Refits, .*fusion in \d+ s, without refit", md)
    assert "| fusion (ours) |" in md and "`fusion` weights" in md and "Content baselines:" in md


def test_a_bare_csv_log_skips_the_content_methods_with_a_message(script, tmp_path, restore_threads, capsys):
    log = write_log(tmp_path / "log.csv")
    assert script.main(["--dataset", "csv", "--data", str(log), "--out", str(tmp_path), "--epochs", "1",
                        "--threads", "1", "--variants", "row", "--methods", "popularity,text"]) == 0
    assert "skipping text" in capsys.readouterr().out


class Vectors:
    """A model with given user and item vectors (the same user vector for everyone)."""

    def __init__(self, user, items):
        self.user, self.items = np.asarray(user, dtype=float), np.asarray(items, dtype=float)
        self.n_items = len(self.items)

    def user_vectors(self, histories, users=None):
        return np.tile(self.user, (len(histories), 1))

    def item_vectors(self):
        return self.items


def test_the_served_row_fuses_the_collaborative_and_history_text_lists_as_the_retriever_does(script):
    from llmrec.config import RetrievalConfig
    from llmrec.retrieval.protocol import full_ranking_ranks
    from llmrec.retrieval.retriever import reciprocal_rank_fusion

    collab = Vectors([1.0], [[5.0], [4.0], [3.0], [2.0], [1.0], [0.0]])  # ranks items 0 > 1 > 2 > ...
    text = Vectors([1.0], [[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])  # the reverse
    config = RetrievalConfig(n_candidates=1, fetch_multiplier=3, collab_weight=2.0)
    served = script.ServedCandidates(collab, text, config)
    history = [[2]]  # excluded from both lists, as served
    expected = reciprocal_rank_fusion({"collab": ["0", "1", "3"], "history": ["5", "4", "3"]},
                                      {"collab": 2.0, "history": 1.0}, config.rrf_k)
    order = [int(c.id) for c in expected]
    ranks = [int(full_ranking_ranks(served, history, np.array([item]))[0]) for item in order]
    assert ranks == list(range(len(order)))  # the fused order, item by item
    assert order[:3] == [3, 0, 1]  # on both lists first, then the collaborative list (double weight) before text
