"""Facets are learned from the catalog's own values: which fields are categorical, people or numeric, and how."""

from llmrec.catalog.schema import CatalogItem
from llmrec.request.facets import derive_facets, item_values, parse_number, store_metadata, value_key


def test_each_field_gets_the_facet_type_its_values_show(facets):
    kinds = {f.name: (f.type, f.unit or f.role) for f in facets.facets}
    assert kinds["kind"] == ("categorical", "kind")
    assert kinds["genres"][0] == "categorical"
    assert kinds["director"] == ("people", "direct")
    assert kinds["cast"] == ("people", "cast")
    assert kinds["author"] == ("people", "write")
    assert kinds["year"] == ("numeric", "year")
    assert kinds["runtime"] == ("numeric", "minutes")
    assert kinds["duration"] == ("numeric", "minutes")
    assert kinds["imdb_rating"] == ("numeric", "rating10")
    assert kinds["pages"] == ("numeric", "count")


def test_lengths_and_ratings_are_read_in_their_units():
    assert parse_number("3h 48min", "minutes") == 228
    assert parse_number("1h 35min", "minutes") == 95
    assert parse_number("128 min", "minutes") == 128
    assert parse_number("7.5/10", "rating10") == 7.5
    assert parse_number("2006–2007", "year") == 2006
    assert parse_number("Approved", "rating10") is None


def test_a_field_of_unique_strings_is_no_facet_but_a_sparse_tag_field_is_a_soft_one():
    items = [CatalogItem(id=str(i), title=f"T{i}", fields={"tagline": f"A unique line number {i}",
                                                          "tags": "twist ending" if i < 2 else ""})
             for i in range(20)]
    facets = derive_facets(items)
    assert facets.get("tagline") is None
    assert facets.get("tags") is not None and not facets.get("tags").hard


def test_identifiers_are_not_numeric_facets():
    items = [CatalogItem(id=str(i), title=f"T{i}", fields={"imdb_id": str(1000 + i), "episode": str(i)})
             for i in range(10)]
    facets = derive_facets(items)
    assert facets.get("imdb_id") is None
    assert facets.get("episode").type == "numeric"


def test_coverage_is_counted_among_items_of_the_kinds_that_have_the_field(facets):
    # "show" is on every podcast episode (2 of 12 items): a hard facet all the same
    assert facets.get("show").hard


def test_typed_attributes_win_over_the_text_field():
    item = CatalogItem(id="x", title="X", fields={"runtime": "about two hours"}, attributes={"runtime": 121})
    facets = derive_facets([item, CatalogItem(id="y", title="Y", fields={"runtime": "90 min"})])
    assert item_values(item, facets)["runtime"] == 121


def test_values_are_normalised_so_spellings_agree():
    assert value_key("Peter O'Toole") == value_key("Peter OToole") == "peter otoole"
    assert value_key("José Ferrer") == "jose ferrer"
    assert value_key("Children's") == "childrens"


def test_store_metadata_removes_facets_an_item_no_longer_has():
    meta = store_metadata({"year": 1999.0}, previous={"year": 1998.0, "genres": ["drama"]})
    assert meta == {"f_year": 1999.0, "f_genres": None}
