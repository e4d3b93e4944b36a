"""When fewer than k items meet every condition: keep those first, then widen or drop the softest condition.

Softness, most negotiable first: a length, a rating, a count, the years, a genre or other categorical value, a person,
the kind of item. Exclusions are never relaxed ("not a comedy" must hold). A numeric condition is widened a step at a
time (ten years, a quarter hour, half a rating point) before it is dropped, so "a Western from before 1940" in a
catalog with none shows the oldest Westerns; each relaxation is said in the recommendation's notices.
"""

from __future__ import annotations

from llmrec.request.conditions import Condition, RequestInterpretation
from llmrec.request.facets import CatalogFacets
from llmrec.request.index import FacetIndex

_STEPS = {"year": 10.0, "minutes": 15.0, "rating10": 0.5}
_MAX_WIDENINGS = 5
_NUMERIC_ORDER = {"minutes": 0, "rating10": 1, "count": 2, "year": 3}


def _softness(condition: Condition, facets: CatalogFacets) -> int:
    facet = facets.get(condition.facet)
    if condition.type == "numeric":
        return _NUMERIC_ORDER.get(facet.unit if facet else "count", 2)
    if condition.type == "people":
        return 5
    return 6 if facet is not None and facet.role == "kind" else 4


def _widen(condition: Condition, facets: CatalogFacets) -> Condition | None:
    """One step wider, or None when it cannot be widened (not numeric, or a negated range)."""
    facet = facets.get(condition.facet)
    if condition.type != "numeric" or condition.negate or facet is None:
        return None
    step = _STEPS.get(facet.unit or "", max(1.0, round(((facet.high or 0) - (facet.low or 0)) * 0.1)))
    low = condition.low - step if condition.low is not None else None
    high = condition.high + step if condition.high is not None else None
    return condition.model_copy(update={"low": low, "high": high})


def relax(interpretation: RequestInterpretation, index: FacetIndex, exclude: set[str], k: int
          ) -> tuple[list[list[Condition]], list[str]]:
    """The condition sets to apply, strictest first: the request's own, then one set per relaxation step, until at
    least ``k`` items meet the last (or nothing is left to relax); and what was relaxed, as notices. An item is shown
    by the strictest set it meets, so what meets everything comes first. One set, no notice, when enough items meet
    the request as read."""
    conditions = list(interpretation.conditions)
    stages = [list(conditions)]
    met = len(index.allowed(conditions, exclude))
    if met >= k:
        return stages, []
    strict = " · ".join(c.label for c in conditions)
    first = (f"only {met} item(s) meet every condition ({strict})" if met else
             f"no item meets every condition ({strict})")
    active = dict(enumerate(conditions))
    changed: dict[int, Condition | None] = {}  # position -> what it became (None: dropped)
    order = sorted((i for i, c in enumerate(conditions) if not c.negate),
                   key=lambda i: (_softness(conditions[i], index.facets), -i))
    for i in order:
        steps = 0
        while met < k:
            widened = _widen(active[i], index.facets) if steps < _MAX_WIDENINGS else None
            if widened is None:
                del active[i]
                changed[i] = None
            else:
                active[i] = changed[i] = widened
                steps += 1
            stages.append([active[j] for j in sorted(active)])
            met = len(index.allowed(stages[-1], exclude))
            if widened is None:
                break
        if met >= k:
            break
    # ``changed`` keeps the order conditions were first relaxed in
    said = [f"widened {conditions[i].label} to {now.label}" if now is not None else
            f"dropped {conditions[i].label}" for i, now in changed.items()]
    if not said:
        return stages, [f"{first}; exclusions are never relaxed"]
    return stages, [f"{first}; relaxed: {', '.join(said)} (items meeting more conditions come first)"]


def stage_of(values: dict, stages: list[list[Condition]]) -> int:
    """The first (strictest) condition set an item with these facet values meets; ``len(stages)`` if none."""
    return next((s for s, conditions in enumerate(stages) if all(c.test(values) for c in conditions)), len(stages))
