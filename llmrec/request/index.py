"""Facets in the workspace: learned and written at ingest, read back once per catalog version when asking.

At ingest (``index_facets``) the facets are derived from every item in the workspace (a partial re-ingest still sees
the whole catalog), each item's values are stored in SQLite and written as metadata on its text vector, so a request's
conditions filter inside the Chroma query. Only items whose values changed are rewritten.

At ask time ``FacetIndex`` holds every item's values in memory: the same conditions as a Python predicate for the
candidate sources that are not Chroma queries (collaborative lists, anchors' neighbours), counts for relaxing a
request that too few items satisfy, and the phrase tables (``Lexicon``) the parser reads requests with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

from llmrec.request.conditions import Condition, RequestInterpretation
from llmrec.request.facets import CatalogFacets, derive_facets, item_values, store_metadata
from llmrec.workspace import Workspace

_LOWER_WORD = re.compile(r"(?<![\w'])[a-z][a-z'-]{2,}")


def _dumps(values: dict) -> str:
    return json.dumps(values, sort_keys=True, ensure_ascii=False)


def index_facets(workspace: Workspace) -> tuple[CatalogFacets, int]:
    """Derive the catalog's facets and store every item's values; returns the facets and how many items changed."""
    items = workspace.get_items(workspace.all_item_ids())
    facets = derive_facets(s.item for s in items.values())
    values = {item_id: _dumps(item_values(s.item, facets)) for item_id, s in items.items()}
    changed = workspace.put_facets(facets.model_dump_json(), values)
    return facets, changed


def sync_store(workspace: Workspace, collection, progress: Callable[[Iterable, int, str], Iterable] | None = None
               ) -> int:
    """Write current facet values into the metadata of vectors that lack them; returns how many were written."""
    pending = workspace.unsynced_facets()
    if not pending:
        return 0
    batch = 500
    starts = range(0, len(pending), batch)
    for start in (progress(starts, len(starts), "facets") if progress else starts):
        chunk = pending[start:start + batch]
        metas = [store_metadata(json.loads(v), json.loads(old) if old else None) for _, v, old in chunk]
        collection.update_metadata([i for i, _, _ in chunk], metas)
        workspace.mark_facets_stored([(i, v) for i, v, _ in chunk])
    return len(pending)


class FacetIndex:
    """Every item's facet values and the catalog's phrase tables, as of one catalog version."""

    def __init__(self, workspace: Workspace):
        raw = workspace.facets_json()
        self.facets = CatalogFacets.model_validate_json(raw) if raw else CatalogFacets()
        self.values: dict[str, dict] = {i: json.loads(v) for i, v in workspace.facet_values().items()}
        self._workspace = workspace
        self._lexicon = None

    @property
    def available(self) -> bool:
        """False for a workspace ingested before facets existed (its next ingest learns them)."""
        return bool(self.facets.facets)

    def lexicon(self):
        from llmrec.request.lexicon import Lexicon

        if self._lexicon is None:
            ws = self._workspace
            self._lexicon = Lexicon.build(self.facets, ws.titles(), ws.item_popularity(), self._plain_words())
        return self._lexicon

    def _plain_words(self) -> frozenset[str]:
        """Words the catalog's text uses in lower case: a request word among them is an ordinary word, not a name
        (the parser reads a lower-case "hitchcock" as a person, never "lean" or "stone")."""
        words: set[str] = set()
        for (card,) in self._workspace.connect().db.execute("SELECT card FROM items"):
            words.update(_LOWER_WORD.findall(card))
        return frozenset(w.replace("'", "") for w in words)

    def allowed(self, conditions: list[Condition], exclude: set[str] = frozenset()) -> set[str]:
        """Ids of the items that satisfy every condition (and are not excluded)."""
        return {i for i, v in self.values.items() if i not in exclude and all(c.test(v) for c in conditions)}

    def satisfies(self, interpretation: RequestInterpretation, item_id: str) -> bool:
        return interpretation.test(self.values.get(item_id, {}))
