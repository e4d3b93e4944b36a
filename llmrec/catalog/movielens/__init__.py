"""MovieLens importers: a GroupLens release folder → catalog items and an interaction log.

Three on-disk layouts are recognised by the files they contain (``detect_movielens``; ``layouts`` describes them).
Items keep their MovieLens ids (as strings) so posters and published benchmarks line up. Interactions keep the
ratings file's row order in ``row``: ties in timestamp must be broken by that order, not by item id (see DESIGN.md).
A malformed rating row is not skipped silently: public copies of MovieLens are known to be edited, so the whole read
fails with every bad row listed.

One module per concern: ``rows`` (delimited files), ``ratings`` (the interaction log, read as columns), ``layouts``
(the three releases), ``details`` (details.json), ``posters``, ``movie`` (the item being assembled).
"""

from __future__ import annotations

from pathlib import Path

from llmrec.catalog.interactions import InteractionLog
from llmrec.catalog.movielens.details import apply_details, load_details
from llmrec.catalog.movielens.layouts import READERS, SIGNATURES, detect_movielens, unrecognised_folder_message
from llmrec.catalog.movielens.movie import flag_duplicate_titles, split_title
from llmrec.catalog.movielens.posters import link_posters
from llmrec.catalog.movielens.ratings import check_rated_movies_exist
from llmrec.catalog.schema import CatalogItem
from llmrec.errors import CatalogError

__all__ = ["detect_movielens", "read_movielens", "split_title"]


def read_movielens(path: Path, posters: Path | None = None,
                   details: Path | None = None) -> tuple[list[CatalogItem], InteractionLog]:
    """Read a MovieLens folder into catalog items (file order) and interactions (ratings-file order).

    Args:
        posters: a folder of ``<movieId>.jpg``; an item gets an image only when its file exists. ML-100K ids differ
            from the poster ids, so for ML-100K titles are mapped through a sibling ``ml-1m`` folder
            (``path.parent / "ml-1m"``); without it posters are skipped with a warning.
        details: a details.json (plot, director, writers, cast, IMDb rating, runtime). Defaults to
            ``path / "details.json"`` when that file exists. Entries are matched by ``movie_id`` for ML-100K and by
            exact title otherwise; entries that evidently describe another title are rejected (see ``details``).
    """
    path = Path(path)
    kind = detect_movielens(path)
    if kind is None:
        raise CatalogError(unrecognised_folder_message(path))
    movies, interactions = READERS[kind](path)
    check_rated_movies_exist(movies, interactions, SIGNATURES[kind][1])
    flag_duplicate_titles(movies)
    details_file = Path(details) if details is not None else path / "details.json"
    if details is not None or details_file.is_file():
        apply_details(movies, load_details(details_file), by_id=kind == "ml-100k")
    if posters is not None:
        link_posters(movies, Path(posters), kind, path)
    return [m.to_item() for m in movies], interactions
