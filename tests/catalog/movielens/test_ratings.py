"""MovieLens ratings: a malformed or dangling row fails the read by name; untidy files read the same."""

from __future__ import annotations

import pytest

from llmrec.catalog.movielens import read_movielens
from llmrec.errors import CatalogError
from llmrec.testing.catalogs import write_1m


def test_malformed_rating_rows_fail_the_read_naming_each_line(tmp_path):
    folder = write_1m(tmp_path / "ml-1m")
    (folder / "ratings.dat").write_text("1::1::5::978300760\n1::29::five::978302109\n2::3952::4\n")
    with pytest.raises(CatalogError, match="2 malformed rating row") as excinfo:
        read_movielens(folder)
    assert excinfo.value.problems[0].startswith("ratings.dat:2: rating: 'five'")
    assert excinfo.value.problems[1].startswith("ratings.dat:3: expected 4 cells")


def test_ratings_of_unknown_movies_fail_the_read(tmp_path):
    folder = write_1m(tmp_path / "ml-1m")
    (folder / "ratings.dat").write_text("1::1::5::978300760\n1::777::4::978302109\n")
    with pytest.raises(CatalogError, match="777"):
        read_movielens(folder)


def test_untidy_but_valid_ratings_take_the_slow_path_with_the_same_result(tmp_path):
    folder = write_1m(tmp_path / "ml-1m")
    (folder / "ratings.dat").write_bytes(b"1::29::5::978300760\r\n\r\n 1::1::3::978302109\r\n")
    _, interactions = read_movielens(folder)
    assert [(i.user_id, i.item_id, i.rating, i.row) for i in interactions] == [("1", "29", 5.0, 0),
                                                                               ("1", "1", 3.0, 1)]
