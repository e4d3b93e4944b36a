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


def test_an_item_a_list_cannot_rank_is_not_penalised_for_missing_from_it():
    lists = {"history": ["new", "old"], "collab": ["other", "old"]}
    plain = reciprocal_rank_fusion(lists, {}, k=60)
    assert [c.id for c in plain][0] == "old"  # in both lists, so it beats the new item ranked first by text
    fair = reciprocal_rank_fusion(lists, {}, k=60, coverage={"collab": {"old", "other"}})
    assert [c.id for c in fair][:2] == ["new", "old"]  # the collaborative list could never have ranked "new"


def test_coverage_keeps_the_order_of_items_every_list_covers():
    lists = {"history": ["a", "b", "c"], "collab": ["c", "a", "b"]}
    covered = {"collab": {"a", "b", "c"}}
    assert ([c.id for c in reciprocal_rank_fusion(lists, {}, k=60, coverage=covered)]
            == [c.id for c in reciprocal_rank_fusion(lists, {}, k=60)])
