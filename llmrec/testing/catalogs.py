"""A small hand-written text catalog for tests: enough variety that retrieval and ranking have right answers."""

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
