"""The prompt-variants benchmark (``llmrec.evaluation.bench.prompt_variants``) end to end on a tiny MovieLens folder
with the packaged model; its exact random baseline."""

import json
import math
from pathlib import Path

import pytest

from llmrec.evaluation.bench import prompt_variants
from llmrec.testing.catalogs import write_tiny_movielens


@pytest.fixture(scope="module")
def script():
    return prompt_variants


def write_movielens(folder: Path) -> Path:
    return write_tiny_movielens(folder)


def test_random_baseline_is_the_exact_expectation_over_20_positions(script):
    assert script.random_ndcg(1) == pytest.approx(1 / 20)
    assert script.random_ndcg(10) == pytest.approx(sum(1 / math.log2(r + 2) for r in range(10)) / 20)
    assert script.random_ndcg(10) == pytest.approx(0.2272, abs=1e-4)  # the "≈ 0.227" of DESIGN.md


def test_output_problems_counts_invalid_duplicate_and_seen_items(script):
    assert script.output_problems(["a", "b", "b", "z", "h"], {"a", "b", "h"}, {"h"}) == \
        {"invalid": 1, "duplicate": 1, "seen": 1}


def test_script_ranks_every_variant_and_writes_json_and_markdown(script, tmp_path, llm_backend, monkeypatch):
    monkeypatch.setattr("llmrec.ranking.backends.open_backend", lambda config: llm_backend)
    data = write_movielens(tmp_path / "ml")
    out = tmp_path / "results"
    assert script.main(["--data", str(data), "--users", "2", "--out", str(out)]) == 0
    report = json.loads((out / "ml-latest-small-prompt-variants.json").read_text())
    assert report["users"] == 2 and set(report["results"]) == {"plain", "recency", "icl"}
    assert report["protocol"]["users_with_icl_example"] == 2
    for result in report["results"].values():
        assert 0.0 <= result["NDCG@10"] <= 1.0 and len(result["ranks"]) == 2
        assert result["invalid_rate"] == result["duplicate_rate"] == result["seen_rate"] == 0.0
    assert "Now the same person again" in report["sample_prompts_user_0"]["icl"]
    md = (out / "ml-latest-small-prompt-variants.md").read_text()
    assert "Winner by NDCG@10" in md and "| random order (exact expectation) |" in md
