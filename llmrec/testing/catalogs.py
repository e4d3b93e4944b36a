"""Small catalogs written for tests: a hand-written text catalog with enough variety that retrieval and ranking
have right answers, and tiny MovieLens releases in each of the three GroupLens layouts."""

from __future__ import annotations

import json
from pathlib import Path

TEXT_ITEMS = [
    ("m1", "Starlight Drift", "film", "science fiction, drama",
     "A slow, quiet voyage: a lone astronaut learns to talk with a signal from deep space. Gentle and contemplative."),
    ("m2", "Blood Harvest", "film", "horror", "A gory slasher on a remote farm. Extremely violent."),
    ("m3", "Laugh Track", "film", "comedy", "Two roommates try to save a failing comedy club in Chicago."),
    ("m4", "The Long Orbit", "film", "science fiction, action",
     "Explosive space battles and an alien invasion; non-stop action and violence."),
    ("m5", "Garden of Hours", "film", "drama", "A gentle drama about a widow tending her late husband's garden."),
    ("m6", "Tidewater", "film", "documentary", "A documentary about fishing families on a cold northern coast."),
    ("m7", "Clockwork Hearts", "film", "romance, animation", "An animated love story between two clock-makers."),
    ("m8", "Night Shift", "film", "thriller", "A hospital night nurse uncovers a conspiracy; tense but not gory."),
    ("p1", "Field Notes: Rivers", "podcast", "science, nature", "A podcast episode about how rivers carve valleys."),
    ("p2", "Money Talk 12", "podcast", "finance", "A podcast about household budgets and saving for retirement."),
    ("p3", "Kitchen Stories", "podcast", "food", "Chefs talk about bread, fermentation and family recipes."),
    ("a1", "Quiet Rooms", "album", "ambient, piano", "Soft piano pieces recorded in an empty house."),
    ("a2", "Engine Noise", "album", "metal", "Loud, fast heavy metal with screamed vocals."),
    ("a3", "Sunday Brass", "album", "jazz", "A warm brass band plays standards on a Sunday afternoon."),
]


def write_text_catalog(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cat = folder / "catalog.jsonl"
    with cat.open("w") as f:
        for item_id, title, kind, genres, description in TEXT_ITEMS:
            f.write(json.dumps({"id": item_id, "title": title, "kind": kind, "genres": genres,
                                "description": description}) + "\n")
    log = folder / "interactions.csv"
    rows = ["user_id,item_id,timestamp,rating",
            "scifi_fan,m4,1,5", "scifi_fan,m1,2,5", "scifi_fan,m8,3,4",
            "listener,p1,1,5", "listener,p3,2,4", "listener,a1,3,5"]
    log.write_text("\n".join(rows) + "\n")
    return cat, log


def write_tiny_movielens(folder: Path, users: int = 30, films: int = 40, per_user: int = 12) -> Path:
    """A MovieLens-latest-shaped folder: each user rates ``per_user`` of ``films`` films in steps of 3, so with the
    defaults every film is rated by 9 users and everything survives 5-core filtering."""
    folder.mkdir(parents=True)
    genres = ["Drama", "Comedy", "Sci-Fi", "Horror", "Romance"]
    (folder / "movies.csv").write_text("movieId,title,genres\n" + "".join(
        f"{m},Film {m} ({1980 + m}),{genres[m % 5]}\n" for m in range(1, films + 1)))
    rows = ["userId,movieId,rating,timestamp"]
    for user in range(1, users + 1):
        rows += [f"{user},{(user + 3 * t) % films + 1},4.0,{1000 + t}" for t in range(per_user)]
    (folder / "ratings.csv").write_text("\n".join(rows) + "\n")
    return folder


# --- tiny MovieLens releases, one per layout, with each release's quirks ------------------------------------------

ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western"]


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
