"""Posters: linked by MovieLens id (ML-100K through ML-1M titles); their folder is the media root."""

from __future__ import annotations

import pytest

from pathlib import Path

from llmrec.catalog.movielens import read_movielens
from llmrec.errors import CatalogError
from llmrec.testing.catalogs import write_1m, write_100k, write_posters


def by_id(items):
    return {item.id: item for item in items}


def test_100k_posters_map_through_ml1m_titles(tmp_path):
    folder = write_100k(tmp_path / "ml-100k")
    write_1m(tmp_path / "ml-1m")
    posters = write_posters(tmp_path / "posters", "1", "29")
    items = by_id(read_movielens(folder, posters=posters)[0])
    assert items["1"].images == [posters / "1.jpg"]
    assert items["2"].images == [posters / "29.jpg"]  # ML-100K id 2 is ML-1M id 29, matched by latin-1 title
    assert items["2"].metadata["ml1m_movie_id"] == "29"
    assert items["3"].images == []  # no ML-1M title match


def test_100k_posters_without_ml1m_are_skipped_with_a_warning(tmp_path):
    folder = write_100k(tmp_path / "ml-100k")
    posters = write_posters(tmp_path / "posters", "1")
    with pytest.warns(UserWarning, match="posters skipped"):
        items, _ = read_movielens(folder, posters=posters)
    assert all(item.images == [] for item in items)


def test_posters_link_only_existing_files(tmp_path):
    posters = write_posters(tmp_path / "posters", "1", "3952", "9999")
    items = by_id(read_movielens(write_1m(tmp_path / "ml-1m"), posters=posters)[0])
    assert items["1"].images == [posters / "1.jpg"]
    assert items["29"].images == []
    assert items["3952"].images == [posters / "3952.jpg"]


def test_the_posters_folder_is_the_media_root_of_the_movies_it_illustrates(tmp_path, monkeypatch):
    posters = write_posters(tmp_path / "posters", "1")
    monkeypatch.chdir(tmp_path)
    items = by_id(read_movielens(write_1m(tmp_path / "ml-1m"), posters=Path("posters"))[0])
    assert items["1"].images == [posters / "1.jpg"] and items["1"].media_root == posters  # absolute, as given
    assert items["29"].media_root is None  # no poster, nothing to confine


def test_missing_posters_folder_is_an_error(tmp_path):
    with pytest.raises(CatalogError, match="posters folder"):
        read_movielens(write_1m(tmp_path / "ml-1m"), posters=tmp_path / "nope")
