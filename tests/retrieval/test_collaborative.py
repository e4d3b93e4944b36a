"""Collaborative retrieval in a workspace: fitted on ingest, served from Chroma, fused with the text signals.

The interaction log plants a co-watch pattern that no text similarity explains (after item X people always pick the
item five places later in the catalog, e.g. an ambient piano album → a fishing documentary), plus one brand-new item
nobody has touched yet. Real embeddings, real embedded Chroma, a tiny real sequential model.
"""

import json

import numpy as np
import pytest
import torch

from llmrec.catalog.schema import Interaction
from llmrec.config import CollaborativeConfig, LLMRecConfig, SequentialConfig
from llmrec.ingest import ingest
from llmrec.recommender import Recommender
from llmrec.retrieval.collab_model import FusedCollaborative
from llmrec.retrieval.collaborative import COLLAB_COLLECTION, CollaborativeIndex, index_item_vectors
from llmrec.retrieval.retriever import CandidateRetriever
from llmrec.retrieval.sequential import SequentialRecommender
from llmrec.retrieval.stores import open_store
from llmrec.testing.catalogs import TEXT_ITEMS, write_text_catalog
from llmrec.testing.retrieval_contract import RetrievalModelContract
from llmrec.workspace import Workspace

OLD_IDS = [row[0] for row in TEXT_ITEMS]
NEW_ITEM = {"id": "n1", "title": "Volcano Diaries", "kind": "podcast", "genres": "science, geology",
            "description": "A podcast about volcanoes, lava and the people who live beside them."}
TINY = {"dim": 16, "layers": 1, "heads": 2, "max_len": 8, "dropout": 0.0, "epochs": 30, "batch_size": 16,
        "lr": 0.01, "weight_decay": 0.0, "seed": 0, "patience": 0}


class TestFusedCollaborativeContract(RetrievalModelContract):
    """What a workspace serves by default: the sequential pair fused with EASE, fitted as one model."""

    def make_model(self):
        return FusedCollaborative()

    def make_config(self):
        return CollaborativeConfig(**{**TINY, "dim": 8, "heads": 1})


def next_item(item_id: str) -> str:
    """The planted pattern: whoever meets catalog item i picks item i+5 next."""
    return OLD_IDS[(OLD_IDS.index(item_id) + 5) % len(OLD_IDS)]


def write_data(folder, users: int = 60):
    catalog, _ = write_text_catalog(folder)
    with catalog.open("a") as f:
        f.write(json.dumps(NEW_ITEM) + "\n")
    rng = np.random.default_rng(0)
    rows = ["user_id,item_id,timestamp"]
    for u in range(users):
        t = 0
        for start in rng.choice(OLD_IDS, size=2, replace=False):
            for item in (start, next_item(start)):
                t += 1
                rows.append(f"u{u},{item},{t}")
    log = folder / "log.csv"
    log.write_text("\n".join(rows) + "\n")
    return catalog, log


def make_workspace(root, collaborative: dict):
    catalog, log = write_data(root / "data")
    ws = Workspace(root / "ws", create=True)
    table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in collaborative.items())
    ws.config_path.write_text(f"[collaborative]\n{table}\n")
    report = ingest(catalog, ws, interactions=log)
    return ws, report, log


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, one_torch_thread):
    return make_workspace(tmp_path_factory.mktemp("collab"), TINY)


@pytest.fixture(scope="module")
def retriever(fitted):
    ws, _, _ = fitted
    return Recommender(ws).retriever


def ids(candidates):
    return [c.id for c in candidates]


def test_ingest_with_interactions_fits_and_saves_the_model_with_a_manifest(fitted):
    ws, report, _ = fitted
    assert report.collaborative.startswith("collaborative model trained")
    folder = ws.root / "collab"
    # no pickle: the sequential model, EASE's weights and the fusion of the two
    assert sorted(p.name for p in folder.iterdir()) == ["ease.json", "ease.safetensors", "fusion.json",
                                                        "manifest.json", "model.safetensors"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["config"] == SequentialConfig(**TINY).model_dump()
    assert manifest["counts"]["users"] == 60 and manifest["counts"]["items"] == len(OLD_IDS)
    assert manifest["counts"]["interactions"] == 240
    assert manifest["data_hash"] and manifest["created"] and manifest["versions"]["torch"]
    assert manifest["metrics"]["valid_users"] == 60 and 0 <= manifest["metrics"]["valid_ndcg10"] <= 1
    # what is served is the fusion; the sequential model's own validation stays beside it
    assert 0 <= manifest["metrics"]["sequential_valid_ndcg10"] <= 1 and 0 <= manifest["metrics"]["ease_weight"] <= 1
    fusion = json.loads((folder / "fusion.json").read_text())
    assert fusion["fused"] and abs(sum(fusion["weights"].values()) - 1) < 1e-9


def test_item_vectors_live_in_a_second_collection_beside_the_text_one(fitted):
    ws, _, _ = fitted
    store = open_store(LLMRecConfig().store, ws.root)
    assert store.collection(COLLAB_COLLECTION).count() == len(OLD_IDS)
    assert store.collection("text").count() == len(OLD_IDS) + 1


def test_known_user_gets_what_people_with_the_same_history_chose(retriever):
    # Quiet Rooms (an ambient piano album) is followed in the log by a comedy film its text has nothing in common with.
    chosen_next = next_item("a1")
    found = retriever.retrieve(None, ["a1"], exclude={"a1"}, n=5)
    assert chosen_next in ids(found[:3])
    assert found[ids(found).index(chosen_next)].sources["collab"] == 1
    text_only = CandidateRetriever(retriever.text, retriever.embedder, retriever.config)
    assert chosen_next not in ids(text_only.retrieve(None, ["a1"], exclude={"a1"}, n=5)[:3])


def test_history_of_a_known_user_id_reaches_the_collaborative_list(fitted):
    ws, _, _ = fitted
    rec = Recommender(ws)
    history = [i.item_id for i in ws.history("u0")]
    found = rec.retriever.retrieve(None, history, exclude=set(history), n=5)
    assert any("collab" in c.sources for c in found)


def test_a_brand_new_item_with_no_interactions_is_still_found_by_its_text(retriever):
    assert "n1" not in retriever.collab.model.item_ids
    found = retriever.retrieve("a podcast about volcanoes", ["a1"], exclude={"a1"}, n=5)
    assert "n1" in ids(found)
    assert found[ids(found).index("n1")].sources["query"] == 1


def test_the_request_steers_the_list_for_the_same_user(retriever):
    metal = retriever.retrieve("loud heavy metal with screamed vocals", ["a1"], exclude={"a1"}, n=5)
    bread = retriever.retrieve("chefs talking about bread and family recipes", ["a1"], exclude={"a1"}, n=5)
    assert metal[0].id == "a2" and bread[0].id == "p3"
    assert ids(metal) != ids(bread)


def test_a_history_the_model_never_saw_uses_text_only(retriever):
    found = retriever.retrieve(None, ["n1"], exclude={"n1"}, n=5)
    assert found and all("collab" not in c.sources for c in found)


def test_reingest_of_the_same_log_does_not_retrain(fitted, tmp_path):
    ws, _, log = fitted
    before = (ws.root / "collab" / "model.safetensors").stat().st_mtime_ns
    report = ingest(ws.root.parent / "data" / "catalog.jsonl", ws, interactions=log)
    assert "unchanged" in report.collaborative
    assert (ws.root / "collab" / "model.safetensors").stat().st_mtime_ns == before


def test_without_a_model_retrieval_is_text_only(tmp_path):
    ws, report, _ = make_workspace(tmp_path, {**TINY, "fit_on_ingest": False})
    assert report.collaborative is None and not (ws.root / "collab").exists()
    retriever = Recommender(ws).retriever
    assert retriever.collab is None
    found = retriever.retrieve("a podcast", ["a1"], exclude={"a1"}, n=5)
    assert {s for c in found for s in c.sources} <= {"query", "history"}


def test_fit_command_trains_skips_unchanged_data_reindexes_a_lost_collection_and_refits_new_data(tmp_path):
    from typer.testing import CliRunner

    from llmrec.cli import app

    ws, _, _ = make_workspace(tmp_path, {**TINY, "epochs": 3, "fit_on_ingest": False})
    runner = CliRunner()
    first = runner.invoke(app, ["fit", "--workspace", str(ws.root), "--epochs", "2"])
    assert first.exit_code == 0, first.output
    assert "collaborative model trained" in first.output
    assert json.loads((ws.root / "collab" / "manifest.json").read_text())["config"]["epochs"] == 2
    again = runner.invoke(app, ["fit", "--workspace", str(ws.root), "--epochs", "2"])
    assert "collaborative model unchanged" in again.output

    store = open_store(LLMRecConfig().store, ws.root)
    store.drop(COLLAB_COLLECTION)  # the store lost the vectors (e.g. a fresh Chroma server)
    messages = []
    assert CollaborativeIndex.open(ws, store, warn=messages.append) is None  # asks fall back to text
    assert "llmrec fit" in messages[0]
    repaired = runner.invoke(app, ["fit", "--workspace", str(ws.root), "--epochs", "2"])
    assert "collaborative model reindexed" in repaired.output
    assert CollaborativeIndex.open(ws, open_store(LLMRecConfig().store, ws.root)) is not None

    ws.add_interactions([Interaction(user_id="newcomer", item_id=i, timestamp=t, row=t) for t, i in
                         enumerate(["m1", "m6", "n1"])])  # new data, and n1 gets its first interaction
    refit = runner.invoke(app, ["fit", "--workspace", str(ws.root), "--epochs", "2"])
    assert "collaborative model trained (61 users, 15 items" in refit.output


def synthetic_model(n_items: int) -> SequentialRecommender:
    """An untrained model with spread-out item vectors and biases, like a trained model's (init ones are near 0)."""
    model = SequentialRecommender.initialised([f"i{i}" for i in range(n_items)],
                                              SequentialConfig(dim=32, layers=1, heads=2, max_len=20,
                                                               architecture="lru"))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model.network.items.weight[1:] = torch.randn(n_items, 32, generator=generator)
        model.network.item_bias[:] = torch.randn(n_items, generator=generator)
    return model


def test_chroma_recall_at_50_against_exact_search_is_at_least_099(tmp_path):
    """Random vectors are a hard case for HNSW (Chroma's default settings reach 0.90 here)."""
    model = synthetic_model(3000)
    index = CollaborativeIndex(model, index_item_vectors(model, open_store(LLMRecConfig().store, tmp_path)))
    rng = np.random.default_rng(0)
    hits = total = 0
    for _ in range(100):
        history = [model.item_ids[i] for i in rng.choice(3000, size=int(rng.integers(1, 30)), replace=False)]
        exact = index.exact(history, 50, exclude=set(history))
        served = index.query(history, 50, exclude=set(history))
        hits += len(set(exact) & set(served))
        total += len(exact)
    assert hits / total >= 0.99


def test_a_collection_dropped_under_a_running_index_falls_back_to_exact_search(tmp_path):
    model = synthetic_model(200)
    store = open_store(LLMRecConfig().store, tmp_path)
    index = CollaborativeIndex(model, index_item_vectors(model, store))
    store.drop(COLLAB_COLLECTION)  # what a refit in another process does
    with pytest.warns(UserWarning, match="searching the loaded model exactly"):
        found = index.query(["i1", "i2"], 5, exclude={"i1", "i2"})
    assert found == index.exact(["i1", "i2"], 5, exclude={"i1", "i2"}) and len(found) == 5


def test_the_served_model_is_refit_on_every_interaction_for_the_validated_epochs(fitted):
    ws, _, _ = fitted
    manifest = json.loads((ws.root / "collab" / "manifest.json").read_text())
    metrics = manifest["metrics"]
    assert metrics["refit_on_all"] is True and metrics["refit_epochs"] == metrics["best_epoch"] >= 1
    assert manifest["counts"]["train_sequences"] == 60  # every user's whole sequence, newest item included


def test_the_lru_sasrec_pair_is_fitted_indexed_and_served_as_one_model(tmp_path):
    ws, report, _ = make_workspace(tmp_path, {**TINY, "epochs": 15, "architecture": "lru+sasrec"})
    assert report.collaborative.startswith("collaborative model trained")
    model = SequentialRecommender.load(ws.root / "collab")
    # the served model was refit on everything; it keeps the mix validation chose, not the initial one
    assert model.metrics["refit_on_all"] is True
    assert model.network.mix.tolist() == pytest.approx([model.metrics["mix_lru"], 1 - model.metrics["mix_lru"]])
    retriever = Recommender(ws).retriever
    served = retriever.collab.model  # the pair fused with EASE: pair vectors, then one coordinate per item
    assert retriever.collab.is_consistent() and served.vector_dim == 2 * TINY["dim"] + 1 + len(OLD_IDS)
    found = retriever.retrieve(None, ["a1"], exclude={"a1"}, n=5)
    assert next_item("a1") in ids(found[:3]) and "collab" in found[ids(found).index(next_item("a1"))].sources


def test_a_model_fitted_before_the_log_grew_is_used_with_a_warning(tmp_path):
    ws, _, _ = make_workspace(tmp_path, {**TINY, "epochs": 2})
    ws.add_interactions([Interaction(user_id="late", item_id="m1", timestamp=1, row=1)])
    messages = []
    index = CollaborativeIndex.open(ws, open_store(LLMRecConfig().store, ws.root), warn=messages.append)
    assert index is not None
    assert "240 interactions" in messages[0] and "241" in messages[0] and "llmrec fit" in messages[0]


def running_recommender_then_a_new_user(root):
    """A workspace, a Recommender already serving it, and then one more user in the log: (ws, running, model hash)."""
    ws, _, _ = make_workspace(root, {**TINY, "epochs": 2})
    running = Recommender(ws)
    before = running.retriever.collab.model.data_hash
    ws.add_interactions([Interaction(user_id="late", item_id=i, timestamp=t, row=t) for t, i in
                         enumerate(["m1", "m6"])])
    return ws, running, before


def test_a_running_recommender_serves_the_model_a_later_fit_swapped_in(tmp_path):
    from typer.testing import CliRunner

    from llmrec.cli import app

    ws, running, before = running_recommender_then_a_new_user(tmp_path)
    refit = CliRunner().invoke(app, ["fit", "--workspace", str(ws.root)])  # what another process would run
    assert "collaborative model trained" in refit.output, refit.output
    running.refresh_models()  # every ask does this first
    assert running.retriever.collab.model.data_hash not in (None, before)
    assert running.retriever.collab.model.counts["users"] == 61
    found = running.retriever.retrieve("", ["m1"], exclude={"m1"}, n=5)
    assert any("collab" in c.sources for c in found)


@pytest.mark.slow
def test_a_running_recommender_sees_what_an_ingest_in_another_process_wrote(tmp_path):
    """Embedded Chroma is opened by both processes: the service must see the new card and the refitted vectors."""
    import subprocess
    import sys
    import warnings

    ws, running, before = running_recommender_then_a_new_user(tmp_path)
    catalog = tmp_path / "data" / "catalog.jsonl"
    with catalog.open("a") as f:
        f.write(json.dumps({"id": "z9", "title": "Glacier Songs", "kind": "podcast", "genres": "nature",
                            "description": "A podcast recorded on melting glaciers, in ice and wind."}) + "\n")
    other = subprocess.run([sys.executable, "-m", "llmrec.cli", "ingest", str(catalog), "--workspace", str(ws.root)],
                           capture_output=True, text=True, timeout=600)
    assert other.returncode == 0, other.stderr[-2000:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "vectors do not match, using text only" would fail here
        running.refresh_models()
    assert running.retriever.collab.model.data_hash != before
    assert any("collab" in c.sources for c in running.retriever.retrieve("", ["m1"], exclude={"m1"}, n=5))
    assert running.retriever.retrieve("glacier ice podcast", [], set(), n=1)[0].id == "z9"


def test_opening_an_up_to_date_model_does_not_reread_the_interaction_log(tmp_path, monkeypatch):
    import llmrec.retrieval.collaborative as collaborative

    ws, _, _ = make_workspace(tmp_path, {**TINY, "epochs": 2})

    def reread(workspace):
        raise AssertionError("the whole log was read although nothing was added since the fit")

    with monkeypatch.context() as patch:
        patch.setattr(collaborative, "workspace_sequences", reread)
        assert CollaborativeIndex.open(ws, open_store(LLMRecConfig().store, ws.root)) is not None
    ws.add_interactions([Interaction(user_id="late", item_id="m1", timestamp=1, row=1)])
    messages = []
    assert CollaborativeIndex.open(ws, open_store(LLMRecConfig().store, ws.root), warn=messages.append) is not None
    assert "llmrec fit" in messages[0]


def test_a_model_saved_before_a_config_field_existed_is_not_refit_for_it(tmp_path):
    ws, _, log = make_workspace(tmp_path, {**TINY, "epochs": 2, "architecture": "sasrec"})
    path = ws.root / "collab" / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["config"]["architecture"]  # as written by an llmrec without the option (default: sasrec)
    path.write_text(json.dumps(manifest))
    report = ingest(ws.root.parent / "data" / "catalog.jsonl", ws, interactions=log)
    assert "unchanged" in report.collaborative


def test_the_served_fusion_scores_each_item_by_the_weighted_sum_of_both_models(fitted):
    """One dot product per item in the store, equal to w_s·s_seq/σ_seq + w_e·s_ease/σ_ease; reloading changes nothing."""
    from llmrec.retrieval.collab_model import FusedCollaborative, load_collaborative

    ws, _, _ = fitted
    served = load_collaborative(ws.root / "collab")
    assert isinstance(served, FusedCollaborative)
    codes = served.encode([["a1", "m6"]])
    w, s = served.fusion.weights, served.fusion.scales
    expected = (w["sequential"] * served.sequential.score(codes) / s["sequential"]
                + w["ease"] * (served.ease.user_vectors(codes) @ served.ease.item_vectors().T) / s["ease"])
    assert np.allclose(served.user_vectors(codes) @ served.item_vectors().T, expected, atol=1e-4)
    index = CollaborativeIndex.open(ws, open_store(LLMRecConfig().store, ws.root))
    assert index.query(["a1"], 5, exclude={"a1"}) == index.exact(["a1"], 5, exclude={"a1"})


def test_turning_ease_off_refits_and_serves_the_sequential_model_alone(tmp_path):
    ws, report, log = make_workspace(tmp_path, {**TINY, "epochs": 2})
    assert (ws.root / "collab" / "fusion.json").is_file()
    config = ws.config_path.read_text()
    ws.config_path.write_text(config + "ease = false\n")
    again = ingest(ws.root.parent / "data" / "catalog.jsonl", ws, interactions=log)
    assert "collaborative model trained" in again.collaborative  # the saved model no longer matches the config
    assert not (ws.root / "collab" / "fusion.json").exists()
    index = CollaborativeIndex.open(ws, open_store(LLMRecConfig().store, ws.root))
    assert isinstance(index.model, SequentialRecommender) and index.is_consistent()
    assert index.model.vector_dim == 2 * TINY["dim"] + 1  # the lru+sasrec pair alone


def test_on_a_big_log_ease_is_tuned_on_a_sample_of_the_validation_users(tmp_path, monkeypatch):
    import llmrec.retrieval.collab_model as collab_model

    monkeypatch.setattr(collab_model, "EASE_TUNING_USERS", 10)
    ws, report, _ = make_workspace(tmp_path, {**TINY, "epochs": 2})
    assert "EASE fused at weight" in report.collaborative
    metrics = json.loads((ws.root / "collab" / "manifest.json").read_text())["metrics"]
    assert metrics["valid_users"] == 60  # the reported validation still covers every held-out user


def test_a_fit_killed_between_its_two_renames_keeps_the_finished_model(tmp_path):
    from llmrec.retrieval.collaborative import fit_collaborative

    ws, _, _ = make_workspace(tmp_path, TINY)
    folder = ws.root / "collab"
    before = (folder / "model.safetensors").read_bytes()
    folder.rename(folder.with_name("collab.partial"))  # killed after `collab` was retired, before the new one moved in
    with ws.write_lock():
        report = fit_collaborative(ws, ws.load_config())
    assert report.status == "unchanged"  # put back, not refitted from scratch
    assert (folder / "model.safetensors").read_bytes() == before
    assert not folder.with_name("collab.partial").exists()
