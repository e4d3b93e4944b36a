"""MovieLens importers: layout detection, parsing of each release's quirks, posters, details.json, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrec.catalog.movielens import detect_movielens, read_movielens, split_title
from llmrec.errors import CatalogError

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western"]


# --- tiny fake releases -------------------------------------------------------------------------------------------

def write_latest_small(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        '11,"American President, The (1995)",Comedy|Drama|Romance\n'
        "193,Cosmos,(no genres listed)\n"
        "50,Amélie (Fabuleux destin d'Amélie Poulain) (2001),Comedy|Romance\n", encoding="utf-8")
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n"
        "1,50,4.5,964982703\n"
        "1,1,4.0,964981247\n"
        "2,1,3.0,964981247\n"
        "2,11,0.5,835355493\n", encoding="utf-8")
    (folder / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n"
        "1,1,pixar,1\n2,1,Funny,2\n3,1,funny,3\n4,1,toys,4\n5,11,politics,5\n", encoding="utf-8")
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n11,0112346,\n", encoding="utf-8")
    return folder


def write_100k(folder: Path, *, details: list[dict] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(ML100K_GENRES)) + "\n",
                                    encoding="latin-1")

    def flags(*names: str) -> str:
        return "|".join("1" if g in names else "0" for g in ML100K_GENRES)

    (folder / "u.item").write_bytes((
        f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|"
        f"{flags('Animation', 'Children' + chr(39) + 's', 'Comedy')}\n"
        f"2|Cité des enfants perdus, La (1995)|01-Jan-1995||http://x|{flags('Adventure', 'Sci-Fi')}\n"
        f"3|Obscure Short (1994)|01-Jan-1994||http://y|{flags('Drama')}\n"
        f"267|unknown||||{flags('unknown')}\n").encode("latin-1"))
    (folder / "u.data").write_text("196\t2\t3\t881250949\n186\t1\t5\t891717742\n196\t1\t1\t878887116\n",
                                   encoding="latin-1")
    if details is not None:
        (folder / "details.json").write_text(json.dumps(details), encoding="utf-8")
    return folder


def write_1m(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.dat").write_bytes(
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "29::Cité des enfants perdus, La (1995)::Adventure|Sci-Fi\n"
        "3952::Contender, The (2000)::Drama|Thriller\n".encode("latin-1"))
    (folder / "ratings.dat").write_text("1::29::5::978300760\n1::1::3::978302109\n2::3952::4::978301968\n",
                                        encoding="latin-1")
    return folder


def write_posters(folder: Path, *ids: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for movie_id in ids:
        (folder / f"{movie_id}.jpg").write_bytes(b"\xff\xd8\xff\xe0 fake jpeg")
    return folder


def by_id(items):
    return {item.id: item for item in items}


# --- detection and titles -----------------------------------------------------------------------------------------

def test_detect_names_each_layout_from_its_files(tmp_path):
    assert detect_movielens(write_latest_small(tmp_path / "a")) == "ml-latest-small"
    assert detect_movielens(write_100k(tmp_path / "b")) == "ml-100k"
    assert detect_movielens(write_1m(tmp_path / "c")) == "ml-1m"


def test_detect_returns_none_for_other_folders_and_missing_paths(tmp_path):
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n")  # no ratings.csv: not a release
    assert detect_movielens(tmp_path) is None
    assert detect_movielens(tmp_path / "nope") is None
    assert detect_movielens(tmp_path / "movies.csv") is None


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


# --- ml-latest-small ----------------------------------------------------------------------------------------------

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


# --- ml-100k ------------------------------------------------------------------------------------------------------

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


# --- ml-1m --------------------------------------------------------------------------------------------------------

def test_1m_reads_double_colon_files(tmp_path):
    items, interactions = read_movielens(write_1m(tmp_path / "ml-1m"))
    assert [(i.id, i.title, i.fields["year"]) for i in items] == [
        ("1", "Toy Story", "1995"), ("29", "Cité des enfants perdus, La", "1995"), ("3952", "Contender, The", "2000")]
    assert by_id(items)["3952"].source == "movies.dat:3"
    assert [(i.user_id, i.item_id, i.rating, i.row) for i in interactions] == [
        ("1", "29", 5.0, 0), ("1", "1", 3.0, 1), ("2", "3952", 4.0, 2)]


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


# --- failures -----------------------------------------------------------------------------------------------------

def test_unrecognised_folder_names_what_was_expected(tmp_path):
    (tmp_path / "ratings.txt").write_text("1,2,3\n")
    with pytest.raises(CatalogError) as excinfo:
        read_movielens(tmp_path)
    message = str(excinfo.value)
    for expected in ("movies.csv + ratings.csv", "u.item + u.data", "movies.dat + ratings.dat", "ratings.txt"):
        assert expected in message


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


def test_duplicate_titles_are_flagged_on_both_items(tmp_path):
    folder = write_1m(tmp_path / "ml-1m")
    with (folder / "movies.dat").open("a", encoding="latin-1") as f:
        f.write("30::Toy Story (1995)::Comedy\n")
    items = by_id(read_movielens(folder)[0])
    assert "30" in items["1"].warnings[0] and "1" in items["30"].warnings[0]


# --- the real release ---------------------------------------------------------------------------------------------

@pytest.mark.skipif(not (SHARED_DATA / "ml-latest-small").exists(),
                    reason=f"shared MovieLens data not found at {SHARED_DATA / 'ml-latest-small'}")
def test_real_ml_latest_small_has_the_published_counts():
    items, interactions = read_movielens(SHARED_DATA / "ml-latest-small")
    assert len(interactions) == 100_836
    assert len({i.user_id for i in interactions}) == 610
    assert len(items) == 9_742
    assert [i.row for i in interactions[:3]] == [0, 1, 2]
    assert by_id(items)["1"].title == "Toy Story"
