"""eval/ranker_probe.py: linear heads on the frozen model's states, against the retriever's own order."""

import json

import numpy as np
import pytest

from llmrec.evaluation.commands import load_script
from llmrec.testing.catalogs import write_tiny_movielens


@pytest.fixture(scope="module")
def script():
    return load_script("ranker_probe")


def lists(rng, n, options=20):
    """The target option of each of n lists, uniformly at random."""
    return rng.integers(0, options, n)


def test_a_head_finds_the_feature_that_marks_the_target_and_not_one_that_is_noise(script):
    rng = np.random.default_rng(0)
    target_tr, target_va = lists(rng, 200), lists(rng, 100)

    def features(target):
        x = rng.normal(size=(len(target), 20, 2))
        x[np.arange(len(target)), target, 0] += 3.0   # feature 0 marks the target, feature 1 is noise
        return x

    x_tr, x_va = features(target_tr), features(target_va)
    assert script.ndcg(x_va @ script.fit_head(x_tr, target_tr, 1e-2), target_va) > 0.9
    noise = script.fit_head(x_tr[..., 1:], target_tr, 1e-2)
    assert script.ndcg(x_va[..., 1:] @ noise, target_va) < 0.4   # random is 0.227 on 20 options


def test_ties_count_against_the_target(script):
    assert script.ndcg(np.zeros((1, 20)), np.array([0])) == 0.0   # 19 options tie with it: rank 19, outside 10


def test_swapped_in_targets_teach_a_head_to_prefer_what_the_retriever_scored_low(script):
    """On natural cut points the retriever's score is right; where the target was swapped in for the 20th candidate it
    is by construction the lowest score. Fitted on all cut points the head turns the retriever's weight negative."""
    rng = np.random.default_rng(1)

    def split(n, natural_share):
        retriever = rng.normal(size=(n, 20))
        target = np.empty(n, int)
        natural = rng.random(n) < natural_share
        for i in range(n):
            order = np.argsort(-retriever[i])
            target[i] = order[rng.integers(0, 3)] if natural[i] else order[-1]
        return {"retriever": retriever, "target": target, "natural": natural,
                "facts": rng.normal(size=(n, 20, 3)), "hidden": rng.normal(size=(n, 20, 4)).astype(np.float16)}

    rows = script.head_table(split(300, 0.3), split(100, 1.0), layers=[1])
    by = {(r["head"], r["fit_on"], r["weight_decay"]): r for r in rows}
    assert by[("retriever's own order", "-", None)]["valid_ndcg@10"] > 0.7
    assert by[("retriever + facts", "all", 1e-2)]["retriever_weight"] < 0
    natural = by[("retriever + facts", "natural", 1e-2)]
    assert natural["retriever_weight"] > 0 and natural["valid_ndcg@10"] > 0.7
    assert 50 < natural["train_examples"] < 300


@pytest.mark.slow
def test_probe_reads_states_fits_heads_and_writes_the_table(script, tmp_path):
    folder = write_tiny_movielens(tmp_path / "ml")
    out = tmp_path / "probe.json"
    argv = ["--data", str(folder), "--train-examples", "6", "--valid-users", "3", "--layers", "2,30", "--facts",
            "--cache", str(tmp_path / "cache"), "--out", str(out)]
    assert script.main(argv) == 0
    report = json.loads(out.read_text())
    heads = {r["head"] for r in report["rows"]}
    assert {"retriever's own order", "retriever + facts", "LLM layer 2", "retriever + LLM layer 30"} <= heads
    assert all(0 <= r["valid_ndcg@10"] <= 1 for r in report["rows"])
    assert report["valid_users"] == 3


def test_bad_arguments_and_missing_data_fail_clearly(script, tmp_path):
    with pytest.raises(SystemExit):
        script.main(["--layers", "ten"])
    with pytest.raises(SystemExit):
        script.main(["--train-examples", "1"])
    with pytest.raises(SystemExit, match="data not found"):
        script.main(["--data", str(tmp_path / "nowhere")])
