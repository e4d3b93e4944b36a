"""Too few items meet every condition: the softest is widened or dropped, exclusions never, and it is said."""

import json

from llmrec.request.conditions import RequestInterpretation, parse_expression
from llmrec.request.facets import item_values
from llmrec.request.relax import relax, stage_of


class _Index:
    """The part of FacetIndex relax reads, over the conftest catalog."""

    def __init__(self, items, facets):
        self.facets = facets
        self.values = {i.id: json.loads(json.dumps(item_values(i, facets))) for i in items}

    def allowed(self, conditions, exclude=frozenset()):
        return {i for i, v in self.values.items() if i not in exclude and all(c.test(v) for c in conditions)}


def _interp(facets, *expressions):
    return RequestInterpretation(conditions=[parse_expression(e, facets) for e in expressions])


def test_enough_matches_means_nothing_is_relaxed(items, facets):
    stages, notices = relax(_interp(facets, "kind=film"), _Index(items, facets), set(), 3)
    assert len(stages) == 1 and notices == []


def test_a_year_is_widened_before_a_genre_is_dropped_and_the_notice_says_so(items, facets):
    index = _Index(items, facets)
    stages, notices = relax(_interp(facets, "genres=Western", "year<1940"), index, set(), 1)
    # one step of ten years is not enough (the Western is from 1962); three are
    assert [c.expression for c in stages[-1]] == ["genres=Western", "year<1970"]
    assert "widened year < 1940 to year < 1970" in notices[0]
    assert index.allowed(stages[-1]) == {"f5"}


def test_exclusions_are_never_relaxed(items, facets):
    index = _Index(items, facets)
    stages, notices = relax(_interp(facets, "genres=Horror", "genres!=Comedy", "kind=film"), index, set(), 5)
    assert all(any(c.expression == "genres!=Comedy" for c in stage) for stage in stages)
    assert all(not {"f3"} & index.allowed(stage) for stage in stages)


def test_items_meeting_more_conditions_come_first(items, facets):
    index = _Index(items, facets)
    stages, _ = relax(_interp(facets, "genres=Western", "year<1940"), index, set(), 3)
    order = sorted(index.values, key=lambda i: stage_of(index.values[i], stages))
    assert order[0] == "f5"
