"""Reciprocal-rank fusion merges signals the way the retriever relies on."""

from llmrec.retrieval.retriever import reciprocal_rank_fusion


def test_an_item_high_in_both_lists_beats_items_high_in_one():
    fused = reciprocal_rank_fusion({"query": ["a", "b", "c"], "history": ["b", "d", "a"]}, {}, k=60)
    assert [c.id for c in fused][:2] == ["b", "a"]
    assert fused[0].sources == {"query": 2, "history": 1}


def test_weights_steer_the_fusion():
    lists = {"query": ["q"], "history": ["h"]}
    assert reciprocal_rank_fusion(lists, {"query": 2.0, "history": 1.0}, k=60)[0].id == "q"
    assert reciprocal_rank_fusion(lists, {"query": 1.0, "history": 2.0}, k=60)[0].id == "h"


def test_items_found_by_one_signal_only_are_kept():
    fused = reciprocal_rank_fusion({"query": ["new-item"], "history": []}, {}, k=60)
    assert [c.id for c in fused] == ["new-item"]
