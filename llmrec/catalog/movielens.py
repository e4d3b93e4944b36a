"""MovieLens importers: a GroupLens release folder → catalog items and an interaction log.

Three on-disk layouts are recognised by the files they contain (``detect_movielens``):

- ``ml-latest-small`` (also the layout of ml-latest, ml-20m, ml-25m): ``movies.csv`` + ``ratings.csv``, optional
  ``tags.csv`` and ``links.csv``; UTF-8 CSV with a header.
- ``ml-100k``: ``u.item`` + ``u.data``, optional ``u.genre``; latin-1, pipe- and tab-separated, no header.
- ``ml-1m``: ``movies.dat`` + ``ratings.dat``, optional ``imdb_links.dat``; latin-1, ``::``-separated, no header.

Items keep their MovieLens ids (as strings) so posters and published benchmarks line up. Interactions keep the
ratings file's row order in ``row``: ties in timestamp must be broken by that order, not by item id (see DESIGN.md).
A malformed rating row is not skipped silently: public copies of MovieLens are known to be edited, so the whole read
fails with every bad row listed.
"""

from __future__ import annotations

import csv
import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import methodcaller
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.catalog.interactions import InteractionLog
from llmrec.catalog.schema import CatalogItem
from llmrec.errors import CatalogError

# Files that must all be present for a folder to be read as that layout, checked in this order.
_SIGNATURES: dict[str, tuple[str, ...]] = {
    "ml-latest-small": ("movies.csv", "ratings.csv"),
    "ml-100k": ("u.item", "u.data"),
    "ml-1m": ("movies.dat", "ratings.dat"),
}

# u.genre's names by flag position, used when a copy of ml-100k lacks u.genre.
_ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                  "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                  "War", "Western")
_NO_GENRE = {"(no genres listed)", "unknown", ""}

# "Toy Story (1995)" → "Toy Story", "1995"; also the series form "Death Note (2006–2007)".
_YEAR_SUFFIX = re.compile(r"\s*\((\d{4}(?:[–-]\d{0,4})?)\)\s*$")

MAX_TAGS = 10  # most common tags kept per movie; the long tail is mostly one user's private labels
MAX_CAST = 8  # billed cast kept from details.json; the rest adds tokens, not signal
MAX_PROBLEMS_SHOWN = 20

_DETAILS_PLACEHOLDER = "It looks like we don't have any Plot Summaries"


@dataclass
class _Movie:
    """A movie while it is being assembled from several files; frozen into a ``CatalogItem`` at the end."""

    id: str
    raw_title: str  # as MovieLens spells it, year included: the key posters and details.json are matched on
    source: str
    genres: list[str]
    fields: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)  # typed facet values (details.json credits, runtime)
    images: list[Path] = field(default_factory=list)
    media_root: Path | None = None  # the posters folder: the images must resolve inside it when opened
    warnings: list[str] = field(default_factory=list)

    def to_item(self) -> CatalogItem:
        title, year = split_title(self.raw_title)
        fields: dict[str, str] = {}
        # Every MovieLens item is a film: saying so lets a request for "a podcast" be answered with "this catalog
        # has no podcasts" instead of a film that mentions one.
        attributes: dict[str, Any] = {"kind": "film"}
        if year:
            fields["year"] = year
            attributes["year"] = int(year[:4])
        genres = [g for g in self.genres if g not in _NO_GENRE]
        if genres:
            fields["genres"] = ", ".join(genres)
            attributes["genres"] = genres
        fields.update((k, v) for k, v in self.fields.items() if v)
        attributes.update(self.attributes)
        return CatalogItem(id=self.id, title=title, fields=fields, images=self.images, metadata=self.metadata,
                           attributes=attributes, warnings=self.warnings, source=self.source,
                           media_root=self.media_root)


def split_title(raw: str) -> tuple[str, str]:
    """Split MovieLens' "Title (1995)" into ("Title", "1995"); a title without a year gives ("Title", "")."""
    raw = raw.strip()
    match = _YEAR_SUFFIX.search(raw)
    if not match or match.start() == 0:
        return raw, ""
    return raw[: match.start()].rstrip(), match.group(1)


def detect_movielens(path: Path) -> str | None:
    """Name the MovieLens layout of a folder ("ml-latest-small", "ml-100k", "ml-1m"), or None if it is none of them."""
    path = Path(path)
    if not path.is_dir():
        return None
    for name, files in _SIGNATURES.items():
        if all((path / f).is_file() for f in files):
            return name
    return None


def read_movielens(path: Path, posters: Path | None = None,
                   details: Path | None = None) -> tuple[list[CatalogItem], InteractionLog]:
    """Read a MovieLens folder into catalog items (file order) and interactions (ratings-file order).

    Args:
        posters: a folder of ``<movieId>.jpg``; an item gets an image only when its file exists. ML-100K ids differ
            from the poster ids, so for ML-100K titles are mapped through a sibling ``ml-1m`` folder
            (``path.parent / "ml-1m"``); without it posters are skipped with a warning.
        details: a details.json (plot, director, writers, cast, IMDb rating, runtime). Defaults to
            ``path / "details.json"`` when that file exists. Entries are matched by ``movie_id`` for ML-100K and by
            exact title otherwise; entries that evidently describe another title are rejected (see ``_apply_details``).
    """
    path = Path(path)
    kind = detect_movielens(path)
    if kind is None:
        raise CatalogError(_unrecognised_folder_message(path))
    movies, interactions = _READERS[kind](path)
    _check_rated_movies_exist(movies, interactions, _SIGNATURES[kind][1])
    _flag_duplicate_titles(movies)
    details_file = Path(details) if details is not None else path / "details.json"
    if details is not None or details_file.is_file():
        _apply_details(movies, _load_details(details_file), by_id=kind == "ml-100k")
    if posters is not None:
        _link_posters(movies, Path(posters), kind, path)
    return [m.to_item() for m in movies], interactions


def _link_posters(movies: list[_Movie], posters: Path, kind: str, path: Path) -> None:
    if kind != "ml-100k":
        _attach_posters(movies, posters, lambda movie: movie.id)
        return
    ml1m = path.parent / "ml-1m"
    poster_id = _ml100k_poster_ids(movies, ml1m)
    if poster_id is None:
        warnings.warn(f"posters skipped: ML-100K posters are named by ML-1M movie id, and mapping titles to those "
                      f"ids needs {ml1m / 'movies.dat'}, which does not exist", stacklevel=3)
        return
    _attach_posters(movies, posters, poster_id)


def _unrecognised_folder_message(path: Path) -> str:
    if not path.is_dir():
        return f"MovieLens folder {path} does not exist or is not a folder"
    present = sorted(p.name for p in path.iterdir())
    expected = "; ".join(f"{' + '.join(files)} ({name})" for name, files in _SIGNATURES.items())
    shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "") if present else "nothing"
    return (f"{path} is not a recognised MovieLens folder: expected {expected}; found {shown}. "
            "Point at the unpacked release folder itself (the one holding the ratings file).")


# --- shared line readers -------------------------------------------------------------------------------------------

def _open_text(path: Path, encoding: str):
    try:
        # newline="" keeps the csv module in charge of line endings; harmless for the plain-split readers.
        return path.open(encoding=encoding, newline="")
    except OSError as e:
        raise CatalogError(f"{path}: cannot read: {e.strerror}") from None


def _delimited_rows(path: Path, separator: str, encoding: str, header: bool) -> Iterator[tuple[int, list[str]]]:
    """Yield (1-based line number, cells) of a file, skipping blank lines (and the header when there is one)."""
    with _open_text(path, encoding) as f:
        if separator == ",":
            lines = csv.reader(f)  # quoted titles with commas ("American President, The (1995)")
            for cells in lines:
                if lines.line_num == 1 and header:
                    continue
                if cells:
                    yield lines.line_num, cells
            return
        for number, line in enumerate(f, start=1):
            if number == 1 and header:
                continue
            line = line.rstrip("\r\n")
            if line:
                yield number, line.split(separator)


def _checked_rows(path: Path, separator: str, encoding: str, header: bool,
                  width: int) -> list[tuple[int, list[str]]]:
    """Rows with at least ``width`` cells and a non-empty id; any other row fails the read, naming every bad line."""
    problems = []
    rows = []
    for number, cells in _delimited_rows(path, separator, encoding, header):
        if len(cells) < width or not cells[0].strip() or not cells[1].strip():
            problems.append(f"{path.name}:{number}: expected {width} cells with an id and a title, "
                            f"found {separator.join(cells)[:80]!r}")
            continue
        rows.append((number, cells))
    if problems:
        raise CatalogError(f"{path}: {len(problems)} malformed movie row(s)", _capped(problems))
    return rows


def _pipe_genres(cell: str) -> list[str]:
    return [g.strip() for g in cell.split("|") if g.strip()]


# --- interactions --------------------------------------------------------------------------------------------------

def _read_ratings(path: Path, separator: str, encoding: str, header: bool) -> InteractionLog:
    """Parse ``user, movie, rating, timestamp`` rows into columns; ``row`` is the 0-based data-row index in the
    file."""
    columns = _rating_columns_fast(_read_text(path, encoding), separator, header)
    if columns is None:  # anything unusual (quotes, padding, CRLF, bad rows): go line by line, naming bad rows
        columns = _rating_columns_by_line(path, separator, encoding, header)
    users, movies, ratings, stamps = columns
    return InteractionLog.from_columns(users, movies, stamps, ratings)


def _read_text(path: Path, encoding: str) -> str:
    try:
        return path.read_text(encoding=encoding)
    except OSError as e:
        raise CatalogError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise CatalogError(f"{path}: not valid {encoding} (byte {e.start})") from None


RatingColumns = tuple[list[str], list[str], list[float], list[float]]


def _rating_columns_fast(text: str, separator: str, header: bool) -> RatingColumns | None:
    """Columns of a clean ratings file using only C-level string operations, or None if the file is not clean.

    A per-line Python loop costs several seconds on ML-1M's million rows; splitting the whole text at once and
    slicing every fourth cell costs about one. "Clean" means: exactly four non-empty cells on every line, no
    quotes, spaces or carriage returns, and numbers that parse and are finite.
    """
    if '"' in text or " " in text or "\r" in text:
        return None
    body = text.partition("\n")[2] if header else text
    body = body.rstrip("\n")
    if not body:
        return [], [], [], []
    lines = body.split("\n")
    if set(map(methodcaller("count", separator), lines)) != {3}:
        return None
    cells = body.replace(separator, "\n").split("\n")  # (4 * rows,): user, movie, rating, timestamp, user, ...
    users, movies = cells[0::4], cells[1::4]
    if not all(users) or not all(movies):
        return None
    try:
        ratings, stamps = list(map(float, cells[2::4])), list(map(float, cells[3::4]))
    except ValueError:
        return None
    if not all(map(math.isfinite, ratings)) or not all(map(math.isfinite, stamps)):
        return None
    return users, movies, ratings, stamps


def _rating_columns_by_line(path: Path, separator: str, encoding: str, header: bool) -> RatingColumns:
    """The slow, forgiving path: strips cells, skips blank lines, and fails naming every malformed row."""
    columns: RatingColumns = ([], [], [], [])
    problems: list[str] = []
    for number, cells in _delimited_rows(path, separator, encoding, header):
        try:
            parsed = _rating_cells(cells)
        except ValueError as e:
            problems.append(f"{path.name}:{number}: {e}")
            continue
        for column, value in zip(columns, parsed):
            column.append(value)
    if problems:
        raise CatalogError(f"{path}: {len(problems)} malformed rating row(s); is this an edited copy of MovieLens? "
                           "Re-download the release from GroupLens", _capped(problems))
    return columns


def _rating_cells(cells: list[str]) -> tuple[str, str, float, float]:
    if len(cells) != 4:
        raise ValueError(f"expected 4 cells (user, movie, rating, timestamp), found {len(cells)}")
    user, movie, rating, stamp = (c.strip() for c in cells)
    if not user:
        raise ValueError("user id: missing")
    if not movie:
        raise ValueError("movie id: missing")
    values = []
    for name, text in (("rating", rating), ("timestamp", stamp)):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name}: {text[:20]!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{name}: must be finite")
        values.append(value)
    return user, movie, values[0], values[1]


def _check_rated_movies_exist(movies: list[_Movie], interactions: InteractionLog, ratings_name: str) -> None:
    known = {m.id for m in movies}
    counts = np.bincount(interactions.items, minlength=len(interactions.item_ids))
    unknown = Counter({item: int(n) for item, n in zip(interactions.item_ids, counts.tolist())
                       if n and item not in known})
    if unknown:
        listed = ", ".join(f"{movie} ({n} rating(s))" for movie, n in unknown.most_common(MAX_PROBLEMS_SHOWN))
        raise CatalogError(f"{ratings_name} rates {len(unknown)} movie id(s) missing from the movie list: {listed}; "
                           "the two files come from different releases or one was edited")


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS_SHOWN:
        return problems
    return problems[:MAX_PROBLEMS_SHOWN] + [f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more"]


# --- ml-latest-small -----------------------------------------------------------------------------------------------

def _read_latest_small(path: Path) -> tuple[list[_Movie], InteractionLog]:
    movies = [_Movie(id=cells[0].strip(), raw_title=cells[1], source=f"movies.csv:{n}", genres=_pipe_genres(cells[2]))
              for n, cells in _checked_rows(path / "movies.csv", ",", "utf-8", True, 3)]
    by_id = {m.id: m for m in movies}
    if (path / "links.csv").is_file():
        _apply_links(by_id, path / "links.csv")
    if (path / "tags.csv").is_file():
        for movie_id, tags in _top_tags(path / "tags.csv").items():
            if movie_id in by_id:
                by_id[movie_id].fields["tags"] = ", ".join(tags)
    return movies, _read_ratings(path / "ratings.csv", ",", "utf-8", header=True)


def _apply_links(by_id: dict[str, _Movie], links: Path) -> None:
    """links.csv → metadata ``imdb_id`` ("tt0114709", the form IMDb URLs use) and ``tmdb_id``."""
    for _, cells in _delimited_rows(links, ",", "utf-8", header=True):
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
    for _, cells in _delimited_rows(tags, ",", "utf-8", header=True):
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

def _read_100k(path: Path) -> tuple[list[_Movie], InteractionLog]:
    genre_names = _ml100k_genre_names(path / "u.genre")
    movies = [_ml100k_movie(number, cells, genre_names)
              for number, cells in _checked_rows(path / "u.item", "|", "latin-1", False, 5 + len(genre_names))]
    return movies, _read_ratings(path / "u.data", "\t", "latin-1", header=False)


def _ml100k_genre_names(u_genre: Path) -> tuple[str, ...]:
    if not u_genre.is_file():
        return _ML100K_GENRES
    pairs = [(int(cells[1]), cells[0]) for _, cells in _delimited_rows(u_genre, "|", "latin-1", False)
             if len(cells) == 2 and cells[1].strip().isdigit()]
    return tuple(name for _, name in sorted(pairs)) or _ML100K_GENRES


def _ml100k_movie(number: int, cells: list[str], genre_names: tuple[str, ...]) -> _Movie:
    """One u.item row: id | title | release date | video release date | IMDb URL | one 0/1 flag per genre."""
    flags = cells[5:5 + len(genre_names)]
    movie = _Movie(id=cells[0].strip(), raw_title=cells[1], source=f"u.item:{number}",
                   genres=[name for name, flag in zip(genre_names, flags) if flag.strip() == "1"])
    if cells[2].strip():
        movie.metadata["release_date"] = cells[2].strip()
    if cells[4].strip():
        movie.metadata["imdb_url"] = cells[4].strip()
    return movie


# --- ml-1m ---------------------------------------------------------------------------------------------------------

def _read_1m(path: Path) -> tuple[list[_Movie], InteractionLog]:
    movies = [_Movie(id=cells[0].strip(), raw_title=cells[1], source=f"movies.dat:{n}", genres=_pipe_genres(cells[2]))
              for n, cells in _checked_rows(path / "movies.dat", "::", "latin-1", False, 3)]
    links = path / "imdb_links.dat"  # not part of the GroupLens release; used when a copy carries it
    if links.is_file():
        by_id = {m.id: m for m in movies}
        for _, cells in _delimited_rows(links, "::", "latin-1", False):
            if len(cells) == 2 and cells[0].strip() in by_id and cells[1].strip():
                by_id[cells[0].strip()].metadata["imdb_id"] = cells[1].strip()
    return movies, _read_ratings(path / "ratings.dat", "::", "latin-1", header=False)


def _ml1m_ids_by_title(ml1m: Path) -> dict[str, str] | None:
    """ML-1M ``movies.dat`` as exact title → movieId (the id posters are named by), or None when it is absent."""
    movies_dat = ml1m / "movies.dat"
    if not movies_dat.is_file():
        return None
    return {cells[1].strip(): cells[0].strip()
            for _, cells in _delimited_rows(movies_dat, "::", "latin-1", False) if len(cells) >= 2}


_READERS: dict[str, Callable[[Path], tuple[list[_Movie], InteractionLog]]] = {
    "ml-latest-small": _read_latest_small,
    "ml-100k": _read_100k,
    "ml-1m": _read_1m,
}


# --- enrichment: duplicate titles, posters, details.json ----------------------------------------------------------

def _flag_duplicate_titles(movies: list[_Movie]) -> None:
    """MovieLens lists some films twice under two ids; say so on both rows rather than silently keeping both."""
    by_title: dict[str, list[_Movie]] = {}
    for movie in movies:
        by_title.setdefault(movie.raw_title.strip().casefold(), []).append(movie)
    for same in by_title.values():
        for movie in same if len(same) > 1 else ():
            others = ", ".join(m.id for m in same if m is not movie)
            movie.warnings.append(f"title: same title as MovieLens id(s) {others} (listed twice in MovieLens?)")


def _attach_posters(movies: list[_Movie], posters: Path, poster_id: Callable[[_Movie], str | None]) -> None:
    """Link ``posters/<poster id>.jpg`` to each movie whose file exists.

    The posters folder becomes the movies' media root: a poster that is a link out of it (or a pipe, a device) is
    refused when ingest opens it, like a catalog row's path outside its catalog's folder.
    """
    if not posters.is_dir():
        raise CatalogError(f"posters folder {posters} does not exist or is not a folder")
    posters = posters.absolute()
    available = {p.name for p in posters.iterdir()}  # one listing instead of a stat per movie
    for movie in movies:
        movie_poster = poster_id(movie)
        if movie_poster is not None and f"{movie_poster}.jpg" in available:
            movie.images.append(posters / f"{movie_poster}.jpg")
            movie.media_root = posters


def _ml100k_poster_ids(movies: list[_Movie], ml1m: Path) -> Callable[[_Movie], str | None] | None:
    """Poster ids for ML-100K movies: the ML-1M id of the same exact title (also kept as ``ml1m_movie_id``)."""
    ids_by_title = _ml1m_ids_by_title(ml1m)
    if ids_by_title is None:
        return None
    for movie in movies:
        if movie.raw_title.strip() in ids_by_title:
            movie.metadata["ml1m_movie_id"] = ids_by_title[movie.raw_title.strip()]
    return lambda movie: movie.metadata.get("ml1m_movie_id")


def _load_details(path: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"details file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CatalogError(f"details file {path} is not readable JSON: {e}") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CatalogError(f"details file {path} must be a JSON list of objects with movie_id, movie_title, ...")
    return entries


def _apply_details(movies: list[_Movie], entries: list[dict[str, Any]], by_id: bool) -> None:
    """Add plot, director, writers, cast, IMDb rating, runtime from details.json entries.

    The scraped file matched titles to IMDb by search, and some matches are wrong: "Terminator 2: Judgment Day
    (1991)" got a video game, "Silence of the Lambs, The (1991)" a 2014 web-series episode, "Magnificent Seven, The
    (1954)" the 2016 remake. An entry is therefore rejected (with a warning on the item) when its IMDb year is not a
    year ("Video Game", "TV Series", "Episode aired ...") or is more than one year from the MovieLens title's year.
    Its ``genre``/``movie_genres`` fields are ignored: they disagree with u.item's genre flags for most movies.
    """
    key = (lambda m: m.id) if by_id else (lambda m: m.raw_title.strip())
    movies_by_key = {key(m): m for m in movies}
    for entry in entries:
        movie = movies_by_key.get(str(entry.get("movie_id" if by_id else "movie_title", "")).strip())
        if movie is None:
            continue
        problem = _details_mismatch(movie, entry)
        if problem:
            movie.warnings.append(f"details: entry rejected, {problem}")
            continue
        movie.fields.update(_details_fields(entry))
        movie.attributes.update(_details_attributes(entry))
        movie.metadata.update(_details_metadata(entry))


def _details_mismatch(movie: _Movie, entry: dict[str, Any]) -> str | None:
    title = str(entry.get("movie_title", "")).strip()
    if title and title != movie.raw_title.strip():
        return f"it is for {title!r}"
    year = entry.get("year")
    if year is None or year == "":
        return None
    try:
        imdb_year = int(float(year))
    except (TypeError, ValueError):
        return f"it describes an IMDb {str(year)[:40]!r}, not this film"
    _, own_year = split_title(movie.raw_title)
    if own_year[:4].isdigit() and abs(int(own_year[:4]) - imdb_year) > 1:
        return f"its IMDb year {imdb_year} is not the title's {own_year[:4]}"
    return None


def _details_fields(entry: dict[str, Any]) -> dict[str, str]:
    plot = str(entry.get("description") or "").strip()
    fields = {
        "plot": "" if plot.startswith(_DETAILS_PLACEHOLDER) else " ".join(plot.split()),
        "director": ", ".join(_names(entry.get("director"))),
        "writers": ", ".join(_names(entry.get("writer"))),
        "cast": ", ".join(_names(entry.get("cast"))[:MAX_CAST]),
        "runtime": str(entry.get("movie_length") or "").strip(),
        "age_rating": str(entry.get("age_rating") or "").strip(),
    }
    rating = entry.get("rating")
    if isinstance(rating, (int, float)) and math.isfinite(rating):
        fields["imdb_rating"] = f"{rating:g}/10"
    return {k: v for k, v in fields.items() if v}


def _details_attributes(entry: dict[str, Any]) -> dict[str, Any]:
    """The typed values behind ``_details_fields``: credits as lists, runtime in minutes, rating out of 10."""
    from llmrec.request.facets import parse_number

    attributes: dict[str, Any] = {}
    for name, key, limit in (("director", "director", None), ("writers", "writer", None), ("cast", "cast", MAX_CAST)):
        names = _names(entry.get(key))[:limit]
        if names:
            attributes[name] = names
    minutes = parse_number(str(entry.get("movie_length") or ""), "minutes")
    if minutes:
        attributes["runtime"] = int(minutes)
    rating = entry.get("rating")
    if isinstance(rating, (int, float)) and math.isfinite(rating):
        attributes["imdb_rating"] = float(rating)
    return attributes


def _details_metadata(entry: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    imdb = re.search(r"/title/(tt\d+)", str(entry.get("movie_url") or ""))
    if imdb:
        metadata["imdb_id"] = imdb.group(1)
    if entry.get("num_review"):
        metadata["imdb_votes"] = str(entry["num_review"])
    return metadata


def _names(value: Any) -> list[str]:
    """A details.json person list; the scraper wrote "nan" where a credit was missing."""
    if not isinstance(value, list):
        value = [value] if isinstance(value, str) else []
    return [str(v).strip() for v in value if str(v).strip() and str(v).strip().lower() != "nan"]
