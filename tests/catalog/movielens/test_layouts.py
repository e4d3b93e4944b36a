"""The three GroupLens layouts: each recognised by its files and read with its own quirks."""

from __future__ import annotations

import pytest

from llmrec.catalog.movielens import detect_movielens, read_movielens
from llmrec.errors import CatalogError
from llmrec.evaluation.options import data_root
from llmrec.testing.catalogs import write_1m, write_100k, write_latest_small

ML_LATEST_SMALL = data_root() / "ml-latest-small"  # $LLMREC_DATA, else ../shared/data from where pytest runs


def by_id(items):
    return {item.id: item for item in items}


def test_detect_names_each_layout_from_its_files(tmp_path):
    assert detect_movielens(write_latest_small(tmp_path / "a")) == "ml-latest-small"
    assert detect_movielens(write_100k(tmp_path / "b")) == "ml-100k"
    assert detect_movielens(write_1m(tmp_path / "c")) == "ml-1m"


def test_detect_returns_none_for_other_folders_and_missing_paths(tmp_path):
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n")  # no ratings.csv: not a release
    assert detect_movielens(tmp_path) is None
    assert detect_movielens(tmp_path / "nope") is None
    assert detect_movielens(tmp_path / "movies.csv") is None


def test_unrecognised_folder_names_what_was_expected(tmp_path):
    (tmp_path / "ratings.txt").write_text("1,2,3\n")
    with pytest.raises(CatalogError) as excinfo:
        read_movielens(tmp_path)
    message = str(excinfo.value)
    for expected in ("movies.csv + ratings.csv", "u.item + u.data", "movies.dat + ratings.dat", "ratings.txt"):
        assert expected in message


def test_latest_small_items_carry_year_genres_tags_and_links(tmp_path):
    items, _ = read_movielens(write_latest_small(tmp_path / "ml"))
    assert [i.id for i in items] == ["1", "11", "193", "50"]  # file order
    toy = by_id(items)["1"]
    assert toy.title == "Toy Story"
    assert toy.fields["year"] == "1995"
    assert toy.fields["genres"] == "Adventure, Animation, Children, Comedy, Fantasy"
    assert toy.fields["tags"] == "Funny, pixar, toys"  # most used first; "Funny"/"funny" counted as one
    assert toy.metadata == {"imdb_id": "tt0114709", "tmdb_id": "862"}
    assert toy.source == "movies.csv:2"
    assert by_id(items)["11"].title == "American President, The"  # quoted comma survives
    assert "tmdb_id" not in by_id(items)["11"].metadata
    cosmos = by_id(items)["193"]
    assert "year" not in cosmos.fields and "genres" not in cosmos.fields
    assert by_id(items)["50"].title == "Amélie (Fabuleux destin d'Amélie Poulain)"


def test_latest_small_interactions_keep_file_order_and_types(tmp_path):
    _, interactions = read_movielens(write_latest_small(tmp_path / "ml"))
    assert [(i.user_id, i.item_id, i.rating, i.row) for i in interactions] == [
        ("1", "50", 4.5, 0), ("1", "1", 4.0, 1), ("2", "1", 3.0, 2), ("2", "11", 0.5, 3)]
    assert interactions[0].timestamp == 964982703.0


def test_optional_files_may_be_missing(tmp_path):
    folder = write_latest_small(tmp_path / "ml")
    (folder / "tags.csv").unlink()
    (folder / "links.csv").unlink()
    items, interactions = read_movielens(folder)
    assert "tags" not in by_id(items)["1"].fields and by_id(items)["1"].metadata == {}
    assert len(interactions) == 4


def test_100k_reads_latin1_titles_genre_flags_and_tab_ratings(tmp_path):
    items, interactions = read_movielens(write_100k(tmp_path / "ml-100k"))
    city = by_id(items)["2"]
    assert city.title == "Cité des enfants perdus, La"
    assert city.fields["genres"] == "Adventure, Sci-Fi"
    assert by_id(items)["1"].fields["genres"] == "Animation, Children's, Comedy"
    assert by_id(items)["1"].metadata["release_date"] == "01-Jan-1995"
    assert by_id(items)["267"].title == "unknown" and "genres" not in by_id(items)["267"].fields
    assert [(i.user_id, i.item_id, i.rating, i.row) for i in interactions] == [
        ("196", "2", 3.0, 0), ("186", "1", 5.0, 1), ("196", "1", 1.0, 2)]


def test_1m_reads_double_colon_files(tmp_path):
    items, interactions = read_movielens(write_1m(tmp_path / "ml-1m"))
    assert [(i.id, i.title, i.fields["year"]) for i in items] == [
        ("1", "Toy Story", "1995"), ("29", "Cité des enfants perdus, La", "1995"), ("3952", "Contender, The", "2000")]
    assert by_id(items)["3952"].source == "movies.dat:3"
    assert [(i.user_id, i.item_id, i.rating, i.row) for i in interactions] == [
        ("1", "29", 5.0, 0), ("1", "1", 3.0, 1), ("2", "3952", 4.0, 2)]


@pytest.mark.skipif(not ML_LATEST_SMALL.exists(), reason=f"shared MovieLens data not found at {ML_LATEST_SMALL}")
def test_real_ml_latest_small_has_the_published_counts():
    items, interactions = read_movielens(ML_LATEST_SMALL)
    assert len(interactions) == 100_836
    assert len({i.user_id for i in interactions}) == 610
    assert len(items) == 9_742
    assert [i.row for i in interactions[:3]] == [0, 1, 2]
    assert by_id(items)["1"].title == "Toy Story"
