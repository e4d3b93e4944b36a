"""A small mixed catalog (films, podcast episodes, albums, books) whose facets the request tests read."""

from __future__ import annotations

import pytest

from llmrec.catalog.schema import CatalogItem
from llmrec.request.facets import derive_facets
from llmrec.request.lexicon import Lexicon
from llmrec.request.parser import RequestParser

ROWS = [
    # id, title, fields
    ("f1", "Starlight Drift", {"kind": "film", "genres": "Science fiction, Drama", "year": "1984",
                               "director": "Alfred Hitchcock", "cast": "Tom Hanks, Meg Ryan", "runtime": "128 min",
                               "imdb_rating": "8.1/10"}),
    ("f2", "Blood Harvest", {"kind": "film", "genres": "Horror", "year": "1979", "director": "Alfred Hitchcock",
                             "cast": "Bruce Willis", "runtime": "1h 35min", "imdb_rating": "6.2/10"}),
    ("f3", "Laugh Track", {"kind": "film", "genres": "Comedy, Horror", "year": "1996", "director": "Rob Reiner",
                           "cast": "Meg Ryan, Robin Williams", "runtime": "88 min", "imdb_rating": "7.0/10"}),
    ("f4", "The Long Orbit", {"kind": "film", "genres": "Science fiction, Action", "year": "1987",
                              "director": "Ridley Scott", "cast": "Sigourney Weaver", "runtime": "117 min",
                              "imdb_rating": "8.4/10"}),
    ("f5", "Dust and Psalms", {"kind": "film", "genres": "Western", "year": "1962", "director": "John Ford",
                               "cast": "John Wayne", "runtime": "124 min", "imdb_rating": "7.6/10"}),
    ("f6", "Garden of Hours", {"kind": "film", "genres": "Drama, Romance", "year": "1948",
                               "director": "Tony Scott", "cast": "Cary Grant", "runtime": "101 min",
                               "imdb_rating": "7.2/10"}),
    ("f7", "Tidewater", {"kind": "film", "genres": "Documentary", "year": "2019", "director": "Karin Holm",
                         "runtime": "79 min", "imdb_rating": "7.4/10"}),
    ("f8", "Clockwork Hearts", {"kind": "film", "genres": "Animation, Children's, Romance", "year": "1995",
                                "director": "Ridley Scott", "runtime": "85 min", "imdb_rating": "6.9/10"}),
    ("p1", "Field Notes: Rivers", {"kind": "podcast episode", "show": "Field Notes", "genres": "Science, Nature",
                                   "year": "2021", "host": "Dana Whitfield", "duration": "41 min"}),
    ("p2", "Field Notes: Salt", {"kind": "podcast episode", "show": "Field Notes", "genres": "Travel",
                                 "year": "2022", "host": "Dana Whitfield", "duration": "52 min"}),
    ("a1", "Quiet Rooms", {"kind": "album", "genres": "Ambient, Piano", "year": "2018", "artist": "Theo Lark",
                           "tracks": "10"}),
    ("b1", "The Ninth Winter", {"kind": "book", "genres": "Science fiction", "year": "2018", "author": "Henrik Aalto",
                                "pages": "412"}),
]


def catalog_items() -> list[CatalogItem]:
    return [CatalogItem(id=i, title=t, fields=f) for i, t, f in ROWS]


@pytest.fixture(scope="session")
def items() -> list[CatalogItem]:
    return catalog_items()


@pytest.fixture(scope="session")
def facets(items):
    return derive_facets(items)


@pytest.fixture(scope="session")
def parser(facets, items):
    # "lean" and "stone" are plain words in this catalog's text; "hitchcock" never is
    return RequestParser(Lexicon.build(facets, {i.id: i.title for i in items}, {"f1": 5},
                                       frozenset({"lean", "stone", "quiet", "rivers"})))


@pytest.fixture
def read(parser):
    """The conditions a request is read as, by expression, and the anchors' titles."""
    def run(text: str) -> set[str]:
        r = parser.parse(text)
        return {c.expression for c in r.conditions} | {f"like={a.title}" for a in r.anchors}
    return run
