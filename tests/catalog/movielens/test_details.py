"""details.json: plot, people and rating added by id or title; entries about another title rejected."""

from __future__ import annotations

import pytest

import json

from llmrec.catalog.movielens import read_movielens
from llmrec.errors import CatalogError
from llmrec.testing.catalogs import write_100k


def by_id(items):
    return {item.id: item for item in items}


def details_entry(movie_id: int, title: str, year, **extra) -> dict:
    entry = {"movie_id": movie_id, "movie_title": title, "year": year, "description": f"Plot of {title}.",
             "director": ["Jane Doe"], "writer": ["A. Writer", "nan"], "cast": [f"Actor {n}" for n in range(12)],
             "rating": 7.5, "num_review": "12K", "movie_length": "1h 21min", "age_rating": "G",
             "movie_url": "http://www.imdb.com/title/tt0114709/?ref_=fn_al_tt_1",
             "movie_genres": [1, 18], "genre": ["Action", "Western"]}
    entry.update(extra)
    return entry


def test_100k_details_add_plot_people_and_rating_by_movie_id(tmp_path):
    folder = write_100k(tmp_path / "ml-100k", details=[details_entry(1, "Toy Story (1995)", 1995.0)])
    toy = by_id(read_movielens(folder)[0])["1"]
    assert toy.fields["plot"] == "Plot of Toy Story (1995)."
    assert toy.fields["director"] == "Jane Doe"
    assert toy.fields["writers"] == "A. Writer"  # the scraper's "nan" credits are dropped
    assert toy.fields["cast"].count(",") == 7  # billed cast capped at 8 names
    assert toy.fields["imdb_rating"] == "7.5/10"
    assert toy.fields["runtime"] == "1h 21min"
    assert toy.fields["genres"] == "Animation, Children's, Comedy"  # u.item's flags win over details' genres
    assert toy.metadata["imdb_id"] == "tt0114709"
    assert toy.warnings == []


def test_100k_details_that_describe_another_title_are_rejected_with_a_warning(tmp_path):
    folder = write_100k(tmp_path / "ml-100k", details=[
        details_entry(1, "Toy Story (1995)", "Video Game"),
        details_entry(2, "Cité des enfants perdus, La (1995)", 2016),
        details_entry(3, "Obscure Short (1994)", None,
                      description="It looks like we don't have any Plot Summaries for this title yet."),
    ])
    items = by_id(read_movielens(folder)[0])
    assert "plot" not in items["1"].fields and "Video Game" in items["1"].warnings[0]
    assert "plot" not in items["2"].fields and "2016" in items["2"].warnings[0]
    # an unknown year is accepted, but IMDb's "no plot yet" placeholder is not a plot
    assert "plot" not in items["3"].fields and items["3"].fields["director"] == "Jane Doe"


def test_details_path_can_be_given_explicitly_and_must_exist(tmp_path):
    folder = write_100k(tmp_path / "ml-100k")
    elsewhere = tmp_path / "d.json"
    elsewhere.write_text(json.dumps([details_entry(1, "Toy Story (1995)", 1995)]))
    assert by_id(read_movielens(folder, details=elsewhere)[0])["1"].fields["director"] == "Jane Doe"
    with pytest.raises(CatalogError, match="does not exist"):
        read_movielens(folder, details=tmp_path / "missing.json")
