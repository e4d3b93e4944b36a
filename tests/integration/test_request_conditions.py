"""Conditions stated in a request are honoured end to end: ingest learns the facets, retrieval filters inside the
vector query, the answer says how it read the request, and requests with no condition rank exactly as before."""

import json

import pytest

from llmrec.errors import RequestError
from llmrec.testing.catalogs import TEXT_ITEMS

KIND = {row[0]: row[2] for row in TEXT_ITEMS}
GENRES = {row[0]: row[3] for row in TEXT_ITEMS}


def test_ingest_learns_the_facets_and_writes_them_on_every_vector(text_workspace):
    from llmrec.retrieval.retriever import TEXT_COLLECTION
    from llmrec.retrieval.stores import open_store
    from llmrec.workspace import Workspace

    ws = Workspace(text_workspace)
    facets = json.loads(ws.facets_json())
    assert {f["name"] for f in facets["facets"]} >= {"kind", "genres"}
    store = open_store(ws.load_config().store, ws.root).collection(TEXT_COLLECTION)
    meta = store._c.get(ids=["p1"], include=["metadatas"])["metadatas"][0]
    assert meta["f_kind"] == ["podcast"] and "science" in meta["f_genres"]


def test_every_answer_meets_the_stated_kind(recommender):
    rec = recommender.ask("a podcast about nature", k=3)
    assert {KIND[it.item_id] for it in rec.items} == {"podcast"}
    assert rec.interpretation.summary.startswith("kind = podcast")


def test_an_excluded_genre_never_appears(recommender):
    rec = recommender.ask("a film that is not a drama", k=5)
    assert rec.items and all("drama" not in GENRES[it.item_id] for it in rec.items)
    assert all(KIND[i] == "film" for i in rec.candidates)


@pytest.mark.parametrize("text", ["something gentle and quiet", "something loud for the gym", "stories about the sea"])
def test_a_request_with_no_condition_ranks_exactly_as_without_parsing(recommender, text):
    parsed = recommender.ask(text, k=5)
    unparsed = recommender.ask(text, k=5, parse=False)
    assert parsed.interpretation.is_plain()
    assert [(it.item_id, it.score) for it in parsed.items] == [(it.item_id, it.score) for it in unparsed.items]
    assert parsed.candidates == unparsed.candidates


def test_too_few_matches_are_shown_first_then_a_relaxed_answer_with_a_notice(recommender):
    rec = recommender.ask("a documentary film", k=3)
    assert rec.items[0].item_id == "m6"  # the one documentary
    assert any("relaxed" in n for n in rec.notices)
    assert all(KIND[it.item_id] == "film" for it in rec.items)  # the kind holds, the genre was relaxed


def test_a_person_can_add_replace_and_drop_conditions(recommender):
    rec = recommender.ask("something calm", k=3, where=["kind=album"])
    assert {KIND[it.item_id] for it in rec.items} == {"album"}
    rec = recommender.ask("a podcast about bread", k=2, ignore=["kind=podcast"])
    assert not rec.interpretation.conditions and rec.interpretation.parsed
    with pytest.raises(RequestError, match="no facet 'mood'"):
        recommender.ask("anything", where=["mood=happy"])


def test_the_audit_record_stores_the_reading(recommender):
    rec = recommender.ask("an album that is not jazz", k=2)
    record = recommender.audit_store.get(rec.request_id)
    assert [c.expression for c in record.interpretation.conditions] == ["kind=album", "genres!=jazz"]
    assert "Every option already meets: kind = album; not genres jazz" in record.ranking_prompt
