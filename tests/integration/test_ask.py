"""Ingest → ask on a small text catalog: real embeddings, real Chroma, the real packaged LLM."""

import pytest

from llmrec.errors import RequestError, UnknownUserError
from llmrec.ingest import ingest
from llmrec.workspace import Workspace
from llmrec.testing.catalogs import TEXT_ITEMS, write_text_catalog

IDS = {row[0] for row in TEXT_ITEMS}


def test_anonymous_request_returns_k_catalog_items_with_grounded_justifications(justifying_recommender):
    rec = justifying_recommender.ask("a gentle science fiction film about space", k=3)
    assert [it.rank for it in rec.items] == [1, 2, 3]
    assert {it.item_id for it in rec.items} <= IDS
    assert len({it.item_id for it in rec.items}) == 3
    assert "m1" in {it.item_id for it in rec.items}  # the one calm space film is found
    for it in rec.items:
        assert it.justification.strip()
        assert it.evidence and all(e.startswith(("card:", "history:", "collaborative:")) for e in it.evidence)
    assert rec.model == "smollm2-135m" and rec.backend == "transformers"
    # "science fiction film" is read as two conditions; only two items meet both, so the genre is relaxed to fill
    # k = 3 and the two that meet everything come first; every candidate is still a film.
    assert [c.label for c in rec.interpretation.conditions] == ["genres = science fiction", "kind = film"]
    assert {it.item_id for it in rec.items[:2]} == {"m1", "m4"}
    films = {row[0] for row in TEXT_ITEMS if row[2] == "film"}
    assert set(rec.candidates) <= films and len(rec.candidates) == len(films)
    assert any("relaxed: dropped genres = science fiction" in n for n in rec.notices)


def test_known_user_never_gets_items_they_already_saw_unless_asked(recommender):
    seen = {"m4", "m1", "m8"}
    rec = recommender.ask("more space films", user_id="scifi_fan", k=5)
    assert not seen & {it.item_id for it in rec.items}
    rec = recommender.ask("more space films", user_id="scifi_fan", k=5, include_seen=True)
    assert seen & set(rec.candidates)


def test_history_alone_is_a_valid_request(recommender):
    rec = recommender.ask("", history=["a1", "a3"], k=2)
    assert len(rec.items) == 2 and not {"a1", "a3"} & {it.item_id for it in rec.items}


def test_unknown_user_is_a_clear_error(recommender):
    with pytest.raises(UnknownUserError, match="unknown user 'nobody'"):
        recommender.ask("films", user_id="nobody")


@pytest.mark.parametrize("query", ["", "   \n\t "])
def test_empty_request_without_history_is_refused(recommender, query):
    with pytest.raises(RequestError, match="request is empty"):
        recommender.ask(query)


def test_k_zero_is_refused_and_k_larger_than_the_catalog_returns_everything_with_a_notice(recommender):
    with pytest.raises(RequestError, match="k must be at least 1"):
        recommender.ask("films", k=0)
    rec = recommender.ask("anything at all", k=52)
    assert len(rec.items) == len(IDS)
    assert any("more than the 14 item(s) available; returning 14" in n for n in rec.notices)
    with pytest.raises(RequestError, match="at most 52"):
        recommender.ask("films", k=53)


def test_a_huge_request_text_is_refused(recommender):
    with pytest.raises(RequestError, match="limit is 4,000"):
        recommender.ask("x" * 100_000)


def test_history_naming_unknown_items_is_refused(recommender):
    with pytest.raises(RequestError, match="not in the catalog: zzz"):
        recommender.ask("films", history=["m1", "zzz"])


def test_reingest_of_an_unchanged_catalog_changes_nothing(text_workspace, tmp_path):
    cat, log = write_text_catalog(tmp_path)
    report = ingest(cat, text_workspace, interactions=log)
    assert report.items_unchanged == len(IDS) and report.items_new == 0 and report.embedded == 0
    assert report.interactions_added == 0
    assert Workspace(text_workspace).item_count() == len(IDS)
