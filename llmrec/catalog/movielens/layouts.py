"""The three GroupLens release layouts, each recognised by the files it holds and read by its own reader.

- ``ml-latest-small`` (also the layout of ml-latest, ml-20m, ml-25m): ``movies.csv`` + ``ratings.csv``, optional
  ``tags.csv`` and ``links.csv``; UTF-8 CSV with a header.
- ``ml-100k``: ``u.item`` + ``u.data``, optional ``u.genre``; latin-1, pipe- and tab-separated, no header.
- ``ml-1m``: ``movies.dat`` + ``ratings.dat``, optional ``imdb_links.dat``; latin-1, ``::``-separated, no header.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from llmrec.catalog.interactions import InteractionLog
from llmrec.catalog.movielens.movie import Movie
from llmrec.catalog.movielens.ratings import read_ratings
from llmrec.catalog.movielens.rows import checked_rows, delimited_rows, pipe_genres

# Files that must all be present for a folder to be read as that layout, checked in this order.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "ml-latest-small": ("movies.csv", "ratings.csv"),
    "ml-100k": ("u.item", "u.data"),
    "ml-1m": ("movies.dat", "ratings.dat"),
}

# u.genre's names by flag position, used when a copy of ml-100k lacks u.genre.
_ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                  "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                  "War", "Western")

MAX_TAGS = 10  # most common tags kept per movie; the long tail is mostly one user's private labels


def detect_movielens(path: Path) -> str | None:
    """Name the MovieLens layout of a folder ("ml-latest-small", "ml-100k", "ml-1m"), or None if it is none of them."""
    path = Path(path)
    if not path.is_dir():
        return None
    for name, files in SIGNATURES.items():
        if all((path / f).is_file() for f in files):
            return name
    return None


def unrecognised_folder_message(path: Path) -> str:
    if not path.is_dir():
        return f"MovieLens folder {path} does not exist or is not a folder"
    present = sorted(p.name for p in path.iterdir())
    expected = "; ".join(f"{' + '.join(files)} ({name})" for name, files in SIGNATURES.items())
    shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "") if present else "nothing"
    return (f"{path} is not a recognised MovieLens folder: expected {expected}; found {shown}. "
            "Point at the unpacked release folder itself (the one holding the ratings file).")


# --- ml-latest-small -----------------------------------------------------------------------------------------------

def _read_latest_small(path: Path) -> tuple[list[Movie], InteractionLog]:
    movies = [Movie(id=cells[0].strip(), raw_title=cells[1], source=f"movies.csv:{n}", genres=pipe_genres(cells[2]))
              for n, cells in checked_rows(path / "movies.csv", ",", "utf-8", True, 3)]
    by_id = {m.id: m for m in movies}
    if (path / "links.csv").is_file():
        _apply_links(by_id, path / "links.csv")
    if (path / "tags.csv").is_file():
        for movie_id, tags in _top_tags(path / "tags.csv").items():
            if movie_id in by_id:
                by_id[movie_id].fields["tags"] = ", ".join(tags)
    return movies, read_ratings(path / "ratings.csv", ",", "utf-8", header=True)


def _apply_links(by_id: dict[str, Movie], links: Path) -> None:
    """links.csv → metadata ``imdb_id`` ("tt0114709", the form IMDb URLs use) and ``tmdb_id``."""
    for _, cells in delimited_rows(links, ",", "utf-8", header=True):
        movie = by_id.get(cells[0].strip())
        if movie is None or len(cells) < 3:
            continue
        if cells[1].strip():
            movie.metadata["imdb_id"] = "tt" + cells[1].strip()
        if cells[2].strip():
            movie.metadata["tmdb_id"] = cells[2].strip()


def _top_tags(tags: Path) -> dict[str, list[str]]:
    """The ``MAX_TAGS`` most used tags per movie, most used first (ties: first used first).

    Tags are counted case-insensitively ("funny" and "Funny" are one tag) and shown as first spelled.
    """
    counts: dict[str, Counter[str]] = {}
    spelling: dict[str, dict[str, str]] = {}
    for _, cells in delimited_rows(tags, ",", "utf-8", header=True):
        if len(cells) < 3 or not cells[2].strip():
            continue
        movie, text = cells[1].strip(), " ".join(cells[2].split())
        key = text.casefold()
        counts.setdefault(movie, Counter())[key] += 1
        spelling.setdefault(movie, {}).setdefault(key, text)
    # Counter.most_common keeps insertion order among equal counts, i.e. first use.
    return {movie: [spelling[movie][key] for key, _ in counter.most_common(MAX_TAGS)]
            for movie, counter in counts.items()}


# --- ml-100k -------------------------------------------------------------------------------------------------------

def _read_100k(path: Path) -> tuple[list[Movie], InteractionLog]:
    genre_names = _ml100k_genre_names(path / "u.genre")
    movies = [_ml100k_movie(number, cells, genre_names)
              for number, cells in checked_rows(path / "u.item", "|", "latin-1", False, 5 + len(genre_names))]
    return movies, read_ratings(path / "u.data", "\t", "latin-1", header=False)


def _ml100k_genre_names(u_genre: Path) -> tuple[str, ...]:
    if not u_genre.is_file():
        return _ML100K_GENRES
    pairs = [(int(cells[1]), cells[0]) for _, cells in delimited_rows(u_genre, "|", "latin-1", False)
             if len(cells) == 2 and cells[1].strip().isdigit()]
    return tuple(name for _, name in sorted(pairs)) or _ML100K_GENRES


def _ml100k_movie(number: int, cells: list[str], genre_names: tuple[str, ...]) -> Movie:
    """One u.item row: id | title | release date | video release date | IMDb URL | one 0/1 flag per genre."""
    flags = cells[5:5 + len(genre_names)]
    movie = Movie(id=cells[0].strip(), raw_title=cells[1], source=f"u.item:{number}",
                  genres=[name for name, flag in zip(genre_names, flags) if flag.strip() == "1"])
    if cells[2].strip():
        movie.metadata["release_date"] = cells[2].strip()
    if cells[4].strip():
        movie.metadata["imdb_url"] = cells[4].strip()
    return movie


# --- ml-1m ---------------------------------------------------------------------------------------------------------

def _read_1m(path: Path) -> tuple[list[Movie], InteractionLog]:
    movies = [Movie(id=cells[0].strip(), raw_title=cells[1], source=f"movies.dat:{n}", genres=pipe_genres(cells[2]))
              for n, cells in checked_rows(path / "movies.dat", "::", "latin-1", False, 3)]
    links = path / "imdb_links.dat"  # not part of the GroupLens release; used when a copy carries it
    if links.is_file():
        by_id = {m.id: m for m in movies}
        for _, cells in delimited_rows(links, "::", "latin-1", False):
            if len(cells) == 2 and cells[0].strip() in by_id and cells[1].strip():
                by_id[cells[0].strip()].metadata["imdb_id"] = cells[1].strip()
    return movies, read_ratings(path / "ratings.dat", "::", "latin-1", header=False)


def ml1m_ids_by_title(ml1m: Path) -> dict[str, str] | None:
    """ML-1M ``movies.dat`` as exact title → movieId (the id posters are named by), or None when it is absent."""
    movies_dat = ml1m / "movies.dat"
    if not movies_dat.is_file():
        return None
    return {cells[1].strip(): cells[0].strip()
            for _, cells in delimited_rows(movies_dat, "::", "latin-1", False) if len(cells) >= 2}


READERS: dict[str, Callable[[Path], tuple[list[Movie], InteractionLog]]] = {
    "ml-latest-small": _read_latest_small,
    "ml-100k": _read_100k,
    "ml-1m": _read_1m,
}
