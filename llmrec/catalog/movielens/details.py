"""details.json: plot, director, writers, cast, IMDb rating and runtime scraped from IMDb for MovieLens titles.

The scraped file matched titles to IMDb by search, and some matches are wrong: "Terminator 2: Judgment Day
(1991)" got a video game, "Silence of the Lambs, The (1991)" a 2014 web-series episode, "Magnificent Seven, The
(1954)" the 2016 remake. An entry is therefore rejected (with a warning on the item) when its IMDb year is not a
year ("Video Game", "TV Series", "Episode aired ...") or is more than one year from the MovieLens title's year.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from llmrec.catalog.movielens.movie import Movie, split_title
from llmrec.errors import CatalogError

MAX_CAST = 8  # billed cast kept from details.json; the rest adds tokens, not signal

_DETAILS_PLACEHOLDER = "It looks like we don't have any Plot Summaries"


def load_details(path: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"details file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CatalogError(f"details file {path} is not readable JSON: {e}") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CatalogError(f"details file {path} must be a JSON list of objects with movie_id, movie_title, ...")
    return entries


def apply_details(movies: list[Movie], entries: list[dict[str, Any]], by_id: bool) -> None:
    """Add plot, director, writers, cast, IMDb rating, runtime from details.json entries.

    Entries are matched by ``movie_id`` (``by_id``, ML-100K) or by exact title; one that evidently describes another
    title is rejected (see the module's docstring). Its ``genre``/``movie_genres`` fields are ignored: they disagree
    with u.item's genre flags for most movies.
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


def _details_mismatch(movie: Movie, entry: dict[str, Any]) -> str | None:
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
