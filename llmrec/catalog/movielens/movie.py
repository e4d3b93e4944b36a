"""One MovieLens movie while it is assembled from several files, and the title rules every layout shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrec.catalog.schema import CatalogItem

_NO_GENRE = {"(no genres listed)", "unknown", ""}

# "Toy Story (1995)" → "Toy Story", "1995"; also the series form "Death Note (2006–2007)".
_YEAR_SUFFIX = re.compile(r"\s*\((\d{4}(?:[–-]\d{0,4})?)\)\s*$")


@dataclass
class Movie:
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


def flag_duplicate_titles(movies: list[Movie]) -> None:
    """MovieLens lists some films twice under two ids; say so on both rows rather than silently keeping both."""
    by_title: dict[str, list[Movie]] = {}
    for movie in movies:
        by_title.setdefault(movie.raw_title.strip().casefold(), []).append(movie)
    for same in by_title.values():
        for movie in same if len(same) > 1 else ():
            others = ", ".join(m.id for m in same if m is not movie)
            movie.warnings.append(f"title: same title as MovieLens id(s) {others} (listed twice in MovieLens?)")
