"""Posters: ``<poster id>.jpg`` files linked to the movies they illustrate.

Posters are named by MovieLens id, except for ML-100K, whose ids differ: its titles are mapped through a sibling
``ml-1m`` folder to the ML-1M id the poster carries.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from llmrec.catalog.movielens.layouts import ml1m_ids_by_title
from llmrec.catalog.movielens.movie import Movie
from llmrec.errors import CatalogError


def link_posters(movies: list[Movie], posters: Path, kind: str, path: Path) -> None:
    """Give each movie of the release at ``path`` (layout ``kind``) the poster in ``posters`` that is its own."""
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


def _attach_posters(movies: list[Movie], posters: Path, poster_id: Callable[[Movie], str | None]) -> None:
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


def _ml100k_poster_ids(movies: list[Movie], ml1m: Path) -> Callable[[Movie], str | None] | None:
    """Poster ids for ML-100K movies: the ML-1M id of the same exact title (also kept as ``ml1m_movie_id``)."""
    ids_by_title = ml1m_ids_by_title(ml1m)
    if ids_by_title is None:
        return None
    for movie in movies:
        if movie.raw_title.strip() in ids_by_title:
            movie.metadata["ml1m_movie_id"] = ids_by_title[movie.raw_title.strip()]
    return lambda movie: movie.metadata.get("ml1m_movie_id")
