"""The contract every ranking backend must meet; each backend's test module subclasses ``RankingBackendContract``."""

from __future__ import annotations

import pytest

from llmrec.catalog.cards import render_card
from llmrec.catalog.schema import CatalogItem
from llmrec.config import RankerConfig
from llmrec.prompts import default_library
from llmrec.ranking.ranker import LLMRanker
from llmrec.workspace import StoredItem


def stored(item_id: str, title: str, description: str) -> StoredItem:
    item = CatalogItem(id=item_id, title=title, fields={"description": description})
    card = render_card(item, [], [])
    return StoredItem(id=item_id, title=title, item=item, card=card, card_hash="", embedded_hash=None, media=[])


def many_items(n: int) -> list[StoredItem]:
    topics = ["space", "cooking", "jazz", "war", "romance", "horror", "sailing", "chess", "trains", "birds"]
    return [stored(f"i{i}", f"Item {i} about {topics[i % len(topics)]}", f"A story about {topics[i % len(topics)]}.")
            for i in range(n)]


def prompt_and_letters(ranker: LLMRanker, query: str, n_history: int, n_options: int):
    """A rendered ranking prompt over ``many_items`` (the first ``n_history`` as history) and its option letters as
    the backend scores them (" A", " B", ...)."""
    items = many_items(n_history + n_options)
    prompt, shown = ranker.build_prompt(query, items[:n_history], items[n_history:])
    return prompt, [" " + letter for letter, _ in shown]


class RankingBackendContract:
    """Subclasses provide a ``backend`` fixture."""

    @pytest.fixture
    def ranker(self, backend):
        return LLMRanker(backend, default_library(), RankerConfig(seed=0))

    def test_ranks_only_the_candidates_each_exactly_once(self, ranker):
        items = many_items(20)
        result = ranker.rank("something about space", [], items)
        assert sorted(result.ranked) == sorted(i.id for i in items)

    def test_is_deterministic_for_a_seed(self, ranker):
        items = many_items(20)
        a = ranker.rank("jazz please", [], items)
        b = ranker.rank("jazz please", [], items)
        assert a.ranked == b.ranked and a.shown == b.shown
        assert a.scores == pytest.approx(b.scores, abs=1e-4)

    def test_shuffled_order_is_recorded_and_depends_on_the_seed(self, backend):
        items = many_items(20)
        r0 = LLMRanker(backend, default_library(), RankerConfig(seed=0)).build_prompt("q", [], items)[1]
        r1 = LLMRanker(backend, default_library(), RankerConfig(seed=1)).build_prompt("q", [], items)[1]
        assert [i for _, i in r0] != [i for _, i in r1]
        assert sorted(i for _, i in r0) == sorted(i.id for i in items)

    def test_handles_a_single_candidate(self, ranker):
        result = ranker.rank("anything", [], many_items(1))
        assert result.ranked == ["i0"]

    def test_handles_fifty_candidates_in_one_pass(self, ranker):
        items = many_items(50)
        result = ranker.rank("chess", [], items)
        assert len(result.ranked) == 50 and len(set(result.ranked)) == 50

    def test_scores_are_log_probabilities(self, ranker):
        result = ranker.rank("birds", [], many_items(10))
        assert all(lp <= 0.0 for lp in result.logprobs.values())
