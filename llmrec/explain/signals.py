"""What a workspace tells the justifier beyond the items: the user's ratings, every item's facet values, and who
else chose what (the interaction log), the last only for candidates the collaborative model proposed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from llmrec.explain.context import LIKED_RATING
from llmrec.workspace import Workspace

MAX_HISTORY = 50  # enjoyed history items a co-occurrence query looks at


class LogCoOccurrence:
    """People in the interaction log who enjoyed both a history item and the recommended one (ratings at or above
    ``LIKED_RATING``, or any interaction in a log without ratings)."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace

    def __call__(self, item_id: str, history_ids: Sequence[str]) -> Mapping[str, int]:
        ids = list(dict.fromkeys(history_ids))[:MAX_HISTORY]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.workspace.connect().db.execute(
            "SELECT b.item_id, COUNT(DISTINCT a.user_id) FROM interactions a JOIN interactions b "
            "ON a.user_id = b.user_id WHERE a.item_id = ? AND b.item_id IN (" + marks + ") "
            "AND (a.rating IS NULL OR a.rating >= ?) AND (b.rating IS NULL OR b.rating >= ?) GROUP BY b.item_id",
            (item_id, *ids, LIKED_RATING, LIKED_RATING))
        return {h: n for h, n in rows}


def justification_signals(workspace: Workspace, interpretation, ratings: Mapping[str, float], candidates: Iterable,
                          facet_index=None) -> dict:
    """The keyword arguments ``Justifier.justify`` / ``Justifier.context`` take besides the items: the request as
    read, the user's ratings, the facet index's values, and co-occurrence for the candidates with a collaborative
    source (retrieval ``Candidate``s)."""
    collaborative = [c.id for c in candidates if "collab" in getattr(c, "sources", {})]
    index = facet_index if facet_index is not None and facet_index.available else None
    return dict(interpretation=interpretation, ratings=dict(ratings),
                facets=index.facets if index is not None else None,
                values=index.values if index is not None else None,
                cooccurrence=LogCoOccurrence(workspace) if collaborative else None, collaborative=collaborative)
