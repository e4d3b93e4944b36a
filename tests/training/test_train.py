"""``llmrec train``: examples from logs, a LoRA adapter with a manifest, exact resume, safe loading."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from llmrec.config import LLMRecConfig
from llmrec.errors import ConfigError, TrainingError
from llmrec.ingest import ingest
from llmrec.testing.catalogs import TEXT_ITEMS, write_text_catalog

TRAIN_TOML = """
[retrieval]
n_candidates = 5
[train]
grad_accum = 1
eval_every = 2
checkpoint_every = 1
validation_users = 1
max_train_examples = 4
lora_r = 4
"""


@pytest.fixture(scope="module")
def train_workspace(tmp_path_factory):
    """Text catalog + 6 users with 7 events each: enough cut points for train and validation examples."""
    root = tmp_path_factory.mktemp("train")
    cat, _ = write_text_catalog(root / "data")
    ids = [row[0] for row in TEXT_ITEMS]
    rows = ["user_id,item_id,timestamp,rating"]
    for u in range(6):
        for t in range(7):
            rows.append(f"u{u},{ids[(u * 3 + t * 2) % len(ids)]},{t},5")
    log = root / "data" / "log.csv"
    log.write_text("\n".join(rows) + "\n")
    ingest(cat, root / "ws", interactions=log)
    (root / "train.toml").write_text(TRAIN_TOML)
    return root


def train_cmd(root, out, *extra):
    return [sys.executable, "-m", "llmrec.cli", "train", "--workspace", str(root / "ws"), "--out", str(out),
            "--config", str(root / "train.toml"), *extra]


def test_examples_hold_out_each_users_last_item_and_contain_the_target(train_workspace):
    from llmrec.prompts import default_library
    from llmrec.ranking.ranker import LLMRanker
    from llmrec.recommender import Recommender
    from llmrec.training.examples import user_sequences, workspace_examples
    from llmrec.training.run import ChatFormatter
    from llmrec.workspace import Workspace

    ws = Workspace(train_workspace / "ws")
    cfg = LLMRecConfig.from_toml(train_workspace / "train.toml")
    ranker = LLMRanker(ChatFormatter("smollm2-135m"), default_library(), cfg.ranker)
    retriever = Recommender(ws, cfg).retriever
    train, valid = workspace_examples(ws, retriever, ranker, 5, 4, 1, collab=retriever.collab)
    seqs = user_sequences(ws)
    assert train and len(valid) == 1
    # every option carries the collaborative model's evidence level, as serving shows it
    assert all(e.prompt.count("(similar users: ") == 5 for e in train + valid)
    for e in train + valid:
        assert e.target_id != seqs[e.user_id][-1]  # the test item never becomes an example
        assert e.target_letter in e.letters and len(e.letters) == 5
    assert {e.user_id for e in valid}.isdisjoint({e.user_id for e in train if e.target_id == seqs[e.user_id][-2]})


def test_each_example_knows_where_its_shuffled_options_sat_in_the_retrieved_list(train_workspace):
    """The retrieval prior reads the list order, which the shuffled letters hide: ``list_ranks`` keeps it."""
    import re

    from llmrec.prompts import default_library
    from llmrec.ranking.ranker import LLMRanker
    from llmrec.training.examples import make_example
    from llmrec.training.run import ChatFormatter
    from llmrec.workspace import Workspace

    ws = Workspace(train_workspace / "ws")
    ranker = LLMRanker(ChatFormatter("smollm2-135m"), default_library(), LLMRecConfig().ranker)
    listed = ["m4", "a2", "m1", "p3", "m7"]  # the retriever's order
    e = make_example(ranker, ws.get_items, "u0", ["m5"], listed, "m1", "train")
    title = {row[0]: row[1] for row in TEXT_ITEMS}
    shown = dict(re.findall(r"^([A-T])\. .*?<<<([^:>]+)", e.prompt, re.M))
    assert sorted(e.list_ranks) == [0, 1, 2, 3, 4]
    assert [shown[letter] for letter in e.letters] == [title[listed[r]] for r in e.list_ranks]
    assert e.list_ranks[e.letters.index(e.target_letter)] == 2


def test_a_residual_adapter_is_trained_and_validated_on_the_scores_serving_ranks_by(tmp_path):
    """With train.retrieval_prior = w each option scores its letter logit − w·log(1 + list place), in the loss and
    in validation alike; an example without list places is refused rather than trained on the letters alone."""
    from llmrec.training.examples import RankingExample
    from llmrec.training.trainer import AdapterTrainer

    prompt = "Options:\nA. a slow science-fiction film\nB. a loud action film\nWhich is slow? Answer:"
    first = RankingExample("u", prompt, "i1", "A", ("A", "B"), "valid", (1, 0))   # the target listed second
    plain = AdapterTrainer(LLMRecConfig(), "smollm2-135m", tmp_path / "plain")
    plain._load()
    residual = AdapterTrainer(LLMRecConfig.from_mapping({"train": {"retrieval_prior": 2.0}}), "smollm2-135m",
                              tmp_path / "residual")
    residual.model, residual.tokenizer, residual.device = plain.model, plain.tokenizer, plain.device
    letters = plain.option_scores(first)
    assert torch.allclose(residual.option_scores(first) - letters, -2.0 * torch.log1p(torch.tensor([1.0, 0.0])))
    strong = AdapterTrainer(LLMRecConfig.from_mapping({"train": {"retrieval_prior": 100.0}}), "smollm2-135m",
                            tmp_path / "strong")
    strong.model, strong.tokenizer, strong.device = plain.model, plain.tokenizer, plain.device
    listed_first = RankingExample("u", prompt, "i1", "A", ("A", "B"), "valid", (0, 1))
    assert strong.evaluate([listed_first])["hit@1"] == 1.0 and strong.evaluate([first])["hit@1"] == 0.0
    with pytest.raises(TrainingError, match="place in the retrieved list"):
        residual.option_scores(RankingExample("u", prompt, "i1", "A", ("A", "B"), "valid"))


@pytest.mark.slow
def test_training_writes_a_peft_adapter_with_a_manifest_that_serving_loads(train_workspace, tmp_path):
    out = tmp_path / "adapter"
    done = subprocess.run(train_cmd(train_workspace, out), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"adapter_config.json", "adapter_model.safetensors", "manifest.json"} <= {p.name for p in out.iterdir()}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["base_model"] == "smollm2-135m" and len(manifest["data_hash"]) == 16
    assert manifest["metrics"]["evals"] and manifest["metrics"]["finished"]
    assert not (out / "checkpoint").exists()

    from llmrec.recommender import Recommender

    cfg = LLMRecConfig.from_toml(train_workspace / "train.toml")
    cfg.ranker.adapter = str(out)
    cfg.justification.enabled = False
    rec = Recommender(train_workspace / "ws", cfg).ask("calm music", k=2)
    assert rec.adapter == "adapter" and len(rec.items) == 2

    manifest["base_model"] = "some-other-model"
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="was trained on 'some-other-model'"):
        Recommender(train_workspace / "ws", cfg).ask("calm music", k=2)


@pytest.mark.slow
def test_a_killed_run_resumed_ends_with_the_same_adapter_as_an_uninterrupted_one(train_workspace, tmp_path):
    straight = tmp_path / "straight"
    assert subprocess.run(train_cmd(train_workspace, straight), capture_output=True, timeout=1200).returncode == 0

    resumed = tmp_path / "resumed"
    proc = subprocess.Popen(train_cmd(train_workspace, resumed), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = resumed / "checkpoint" / "state.json"
    deadline = time.time() + 900
    while time.time() < deadline and proc.poll() is None:
        if state.is_file() and json.loads(state.read_text())["step"] >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    again = subprocess.run(train_cmd(train_workspace, resumed), capture_output=True, text=True, timeout=600)
    assert again.returncode != 0 and "--resume" in again.stderr  # refuses to silently restart
    done = subprocess.run(train_cmd(train_workspace, resumed, "--resume"), capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-2000:]
    a = load_file(str(straight / "adapter_model.safetensors"))
    b = load_file(str(resumed / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k


def test_qlora_is_refused_on_a_machine_without_cuda(train_workspace, tmp_path):
    from llmrec.training.trainer import AdapterTrainer
    from llmrec.training.examples import RankingExample

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    cfg = LLMRecConfig.from_mapping({"train": {"quantize_4bit": True}})
    example = RankingExample("u", "prompt", "i", "A", ("A", "B"), "train")
    with pytest.raises(TrainingError, match="needs a CUDA GPU"):
        AdapterTrainer(cfg, "smollm2-135m", tmp_path / "q").train([example], [], "h")


def test_lora_layers_puts_trainable_weights_in_the_last_layers_only(tmp_path):
    from llmrec.training.trainer import AdapterTrainer

    config = LLMRecConfig()
    config.train.lora_layers = 2
    trainer = AdapterTrainer(config, config.ranker.model, tmp_path / "a")
    trainer._load()
    n = trainer.model.config.num_hidden_layers
    layers = {int(name.split(".layers.")[1].split(".")[0])
              for name, p in trainer.model.named_parameters() if p.requires_grad}
    assert layers == {n - 2, n - 1}
    config.train.lora_layers = n + 1
    with pytest.raises(TrainingError, match="layers"):
        AdapterTrainer(config, config.ranker.model, tmp_path / "b")._load()


def test_bfloat16_training_keeps_the_lora_weights_float32_over_a_bfloat16_base(tmp_path):
    from llmrec.training.examples import RankingExample
    from llmrec.training.trainer import AdapterTrainer

    config = LLMRecConfig.from_mapping({"train": {"dtype": "bfloat16", "lora_layers": 1, "grad_accum": 1}})
    trainer = AdapterTrainer(config, config.ranker.model, tmp_path / "bf16", log=lambda *_: None)
    prompt = "Options:\nA. a slow science-fiction film\nB. a loud action film\nWhich is slow? Answer:"
    manifest = trainer.train([RankingExample("u", prompt, "i1", "A", ("A", "B"), "train")], [], "h")
    frozen = {p.dtype for p in trainer.model.parameters() if not p.requires_grad}
    trainable = {p.dtype for p in trainer.model.parameters() if p.requires_grad}
    assert frozen == {torch.bfloat16} and trainable == {torch.float32}
    weights = load_file(str(tmp_path / "bf16" / "adapter_model.safetensors"))
    assert weights and all(w.dtype == torch.float32 and torch.isfinite(w).all() for w in weights.values())
    # lora_B starts at zero: one step on a float32 copy of the gradient must have moved it
    assert any(w.abs().sum() > 0 for k, w in weights.items() if "lora_B" in k)
    assert manifest["config"]["train"]["dtype"] == "bfloat16"


# ---- the output folder: nothing finished is overwritten, nothing foreign is continued -----------------------------

def _one_example():
    from llmrec.training.examples import RankingExample

    return RankingExample("u", "prompt", "i", "A", ("A", "B"), "train")


def test_a_finished_adapter_is_replaced_only_with_force(tmp_path):
    from llmrec.training.trainer import AdapterTrainer

    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "manifest.json").write_text("{}")
    with pytest.raises(TrainingError, match="--force"):
        AdapterTrainer(LLMRecConfig(), "smollm2-135m", tmp_path / "done").train([_one_example()], [], "h")
    assert (tmp_path / "done" / "manifest.json").read_text() == "{}"


def test_resume_refuses_a_checkpoint_made_from_other_examples(tmp_path):
    from llmrec.training.trainer import AdapterTrainer

    ckpt = tmp_path / "a" / "checkpoint"
    ckpt.mkdir(parents=True)
    (ckpt / "state.json").write_text(json.dumps({"position": 4, "step": 4, "data_hash": "made-from-other-data",
                                                 "config_hash": "x"}))
    with pytest.raises(TrainingError, match="other training examples"):
        AdapterTrainer(LLMRecConfig(), "smollm2-135m", tmp_path / "a").train([_one_example()], [], "h", resume=True)


def test_a_kill_between_the_checkpoint_renames_still_leaves_a_run_to_resume(tmp_path):
    from llmrec.training.trainer import AdapterTrainer, has_unfinished_run

    for name in (".checkpoint-tmp", ".checkpoint-old"):  # the two moments a kill can leave no "checkpoint" folder
        out = tmp_path / name
        (out / name).mkdir(parents=True)
        (out / name / "state.json").write_text("{}")
        assert has_unfinished_run(out)
        with pytest.raises(TrainingError, match="unfinished run"):
            AdapterTrainer(LLMRecConfig(), "smollm2-135m", out).train([_one_example()], [], "h")
    half = tmp_path / "half" / ".checkpoint-tmp"  # killed while writing: no state.json yet, so not a checkpoint
    half.mkdir(parents=True)
    assert not has_unfinished_run(tmp_path / "half")


def test_two_runs_into_one_folder_do_not_interleave(tmp_path):
    from filelock import FileLock

    from llmrec.training.trainer import AdapterTrainer

    (tmp_path / "a").mkdir()
    with FileLock(str(tmp_path / "a" / ".train.lock")):
        with pytest.raises(TrainingError, match="another llmrec train"):
            AdapterTrainer(LLMRecConfig(), "smollm2-135m", tmp_path / "a").train([_one_example()], [], "h")


def test_a_torn_manifest_is_reported_as_such_and_adapters_list_goes_on(tmp_path):
    from llmrec.llm.adapters import list_adapters, read_manifest
    from llmrec.errors import ModelNotFoundError

    bad = tmp_path / "torn"
    bad.mkdir()
    (bad / "adapter_config.json").write_text("{}")
    (bad / "manifest.json").write_text('{"base_model": "smol')
    with pytest.raises(ModelNotFoundError, match="unreadable"):
        read_manifest(bad)
    assert list_adapters(tmp_path) == [("torn", None)]
