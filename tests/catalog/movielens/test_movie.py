"""MovieLens titles: the year split off the title, and films listed twice flagged on both rows."""

from __future__ import annotations

import pytest

from llmrec.catalog.movielens import read_movielens, split_title
from llmrec.testing.catalogs import write_1m


def by_id(items):
    return {item.id: item for item in items}


@pytest.mark.parametrize("raw, expected", [
    ("Toy Story (1995)", ("Toy Story", "1995")),
    ("Shadows (Cienie) (1988)", ("Shadows (Cienie)", "1988")),
    ("Two Friends (1986) ", ("Two Friends", "1986")),
    ("Death Note: Desu nôto (2006–2007)", ("Death Note: Desu nôto", "2006–2007")),
    ("Babylon 5", ("Babylon 5", "")),
    ("(1995)", ("(1995)", "")),
])
def test_split_title_separates_the_year(raw, expected):
    assert split_title(raw) == expected


def test_duplicate_titles_are_flagged_on_both_items(tmp_path):
    folder = write_1m(tmp_path / "ml-1m")
    with (folder / "movies.dat").open("a", encoding="latin-1") as f:
        f.write("30::Toy Story (1995)::Comedy\n")
    items = by_id(read_movielens(folder)[0])
    assert "30" in items["1"].warnings[0] and "1" in items["30"].warnings[0]
