"""The model table's report: one row per model and variant, and the justifications each model wrote."""

from __future__ import annotations

from llmrec.evaluation.model_table import markdown


def _ranker_row() -> dict:
    return {"sampled20_NDCG@10": 0.2186, "sampled20_se": 0.0246, "rerank_full_NDCG@10": 0.08,
            "rerank_inside_NDCG@10_llm_alone": 0.3, "rerank_inside_NDCG@10": 0.45, "ease_order_inside_NDCG@10": 0.44}


def _report(justifications: dict | None) -> dict:
    model = {"dtype": "float32", "latency": {"float32": {"p50_s": 0.8}}, "ranker": {"base": _ranker_row()},
             "requests": {"demo": {"precision@5": 1.0, "seconds_p50": 0.9}}}
    if justifications:
        model["justifications"] = justifications
    return {"users": {"sampled20": 60, "reranked": 60, "validation": 20}, "retriever": "ease, top-20",
            "models": {"smollm2-135m": model}, "cpus": 2, "matmul_gflops": {"float32": 338.0},
            "retriever_full_NDCG@10": 0.075, "command": "python eval/model_table.py", "wall_seconds": 60.0,
            "load_average": 1.0}


def test_each_model_gets_a_row_and_its_justifications_a_table():
    j = {"requests": 6, "justifications": 18, "generated_share": 0.25, "grounded_claim_rate": 0.97,
         "personal_rate": 0.5, "specific_rate": 0.6, "justify_p50_s": 12.0, "justify_p95_s": 20.5}
    text = markdown(_report(j))
    assert "| smollm2-135m | base | 0.2186 ± 0.0246 |" in text
    assert "| smollm2-135m | 18 | 0.25 | 0.97 | 0.50 | 0.60 | 12.00 / 20.50 |" in text
    assert "demo, 6 requests" in text


def test_without_justifications_the_table_has_no_empty_column():
    assert "generated share" not in markdown(_report(None))


def test_an_adapter_that_ranks_exactly_as_ease_gets_a_row_not_a_crash():
    """At the validated weight the fused order can be EASE's own: every paired difference 0, SE 0, z undefined."""
    report = _report(None)
    report["models"]["smollm2-135m"]["ranker"]["adapter"] = {**_ranker_row(), "vs_ease": {"mean": 0.0, "se": 0.0,
                                                                                            "z": None}}
    assert "| smollm2-135m | adapter | 0.2186 ± 0.0246 |" in markdown(report)
    assert "+0.0000 (the same order)" in markdown(report)
