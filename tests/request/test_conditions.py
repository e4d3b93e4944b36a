"""A condition is written three ways that must agree: a Chroma where filter, a Python predicate, an expression."""

import numpy as np
import pytest

from llmrec.config import VectorStoreConfig
from llmrec.errors import RequestError
from llmrec.request.conditions import Condition, RequestInterpretation, apply_overrides, parse_expression
from llmrec.request.facets import item_values, store_metadata
from llmrec.retrieval.stores import open_store

EXPRESSIONS = [
    "genres=Horror", "genres!=Horror", "genres=Western|Documentary", "genres!=Romance|Comedy", "kind=podcast episode",
    "kind!=film", "director=Ridley Scott", "cast!=Meg Ryan", "director+cast=Alfred Hitchcock", "year<1970",
    "year>=1995", "year=1980..1989", "year!=1980..1989", "runtime+duration<90", "runtime+duration>100",
    "imdb_rating>=8", "pages<500", "year=2018",
]


@pytest.fixture(scope="module")
def collection(tmp_path_factory, items, facets):
    store = open_store(VectorStoreConfig(collection="cond_test"), tmp_path_factory.mktemp("store"))
    col = store.collection("text")
    rng = np.random.default_rng(0)
    col.upsert([i.id for i in items], rng.normal(size=(len(items), 8)).astype(np.float32),
               metadatas=[{"title": i.title, **store_metadata(item_values(i, facets))} for i in items])
    return col


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_the_chroma_filter_selects_exactly_the_items_the_predicate_accepts(expression, collection, items, facets):
    condition = parse_expression(expression, facets)
    values = {i.id: item_values(i, facets) for i in items}
    wanted = {i for i, v in values.items() if condition.test(v)}
    found = {nb.id for nb in collection.query(np.ones(8, dtype=np.float32), len(items), where=condition.where())}
    assert found == wanted


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_an_expression_reads_back_as_the_same_condition(expression, facets):
    condition = parse_expression(expression, facets)
    assert parse_expression(condition.expression, facets).expression == condition.expression


def test_every_condition_of_an_interpretation_filters_together(collection, items, facets):
    interp = RequestInterpretation(conditions=[parse_expression("kind=film", facets),
                                               parse_expression("year>=1980", facets),
                                               parse_expression("genres!=Horror", facets)])
    found = {nb.id for nb in collection.query(np.ones(8, dtype=np.float32), 50, where=interp.where())}
    assert found == {"f1", "f4", "f7", "f8"}


def test_an_unknown_facet_or_value_is_a_clear_error_naming_what_exists(facets):
    with pytest.raises(RequestError, match="no facet 'colour'.*genres"):
        parse_expression("colour=red", facets)
    with pytest.raises(RequestError, match="no value 'Anime'"):
        parse_expression("genres=Anime", facets)
    with pytest.raises(RequestError, match="numeric"):
        parse_expression("year<soon", facets)
    with pytest.raises(RequestError, match="FACET=VALUE"):
        parse_expression("just words", facets)


def test_a_persons_where_replaces_the_parsed_condition_on_that_facet_and_ignore_drops_one(parser, facets):
    interp = parser.parse("a horror film from the eighties")
    changed = apply_overrides(interp, ["year<1970"], ["kind=film"], facets)
    assert {c.expression for c in changed.conditions} == {"genres=Horror", "year<1970"}
    assert [c.source for c in changed.conditions if c.facet == "year"] == ["user"]
    missing = apply_overrides(interp, [], ["genres=Comedy"], facets)
    assert any("genres=Comedy" in n for n in missing.notes)


def test_a_label_reads_as_words():
    c = Condition(facet="year", fields=["year"], type="numeric", high=1970, high_inclusive=False)
    assert c.label == "year < 1970" and c.expression == "year<1970"
    c = Condition(facet="genres", fields=["genres"], type="categorical", values=["Comedy"], negate=True)
    assert c.label == "not genres Comedy"
