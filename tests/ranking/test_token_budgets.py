"""Token budgets bound what a ranking prompt costs: each option's catalog text and the history, in model tokens."""

from __future__ import annotations

import pytest

from llmrec.config import RankerConfig
from llmrec.prompts import default_library
from llmrec.ranking.ranker import LLMRanker
from llmrec.testing.ranking_contract import stored

LONG = "A very long description that goes on and on about the ocean, ships, storms and sailors. " * 6


class _Tokenizing:
    """What prompt building uses from a backend: its chat format and its tokenizer (no model is loaded)."""

    def __init__(self):
        from transformers import AutoTokenizer

        from llmrec.llm.registry import resolve_model
        from llmrec.prompts import plain_chat

        self.chat = plain_chat
        self.tokenizer = AutoTokenizer.from_pretrained(str(resolve_model("smollm2-135m")), local_files_only=True)


@pytest.fixture(scope="module")
def backend():
    return _Tokenizing()


def tokens(backend, text: str) -> int:
    return len(backend.tokenizer(text, add_special_tokens=False)["input_ids"])


def ranker(backend, **config) -> LLMRanker:
    """A ranker with only the budgets given (none by default, unlike ``RankerConfig``'s)."""
    config = {"option_tokens": None, "history_tokens": None, **config}
    return LLMRanker(backend, default_library(), RankerConfig(card_chars_in_prompt=2000, **config))


def test_each_options_text_fits_its_budget_with_the_title_whole(backend):
    items = [stored(f"i{i}", f"Sea story number {i}", LONG) for i in range(5)]
    options = ranker(backend, option_tokens=20)._options(items)
    for item, option in zip(items, options):
        assert option["title"] == item.title
        assert tokens(backend, option["title"]) + tokens(backend, option["summary"]) <= 20 + 1
        assert option["summary"].endswith("\u2026")


def test_short_options_are_left_as_they_are(backend):
    items = [stored("a", "Jaws", "Shark.")]
    assert ranker(backend, option_tokens=40)._options(items) == ranker(backend)._options(items)


def test_a_title_that_uses_the_whole_budget_leaves_no_summary_and_no_dangling_colon(backend):
    item = stored("a", "An extremely long title about the sea and the sky and everything between them", LONG)
    r = ranker(backend, option_tokens=4)
    assert r._options([item])[0]["summary"] == ""
    prompt, _ = r.build_prompt("", [], [item])
    assert f"<<<{item.title}>>>" in prompt.text


def test_history_keeps_the_newest_items_that_fit_its_budget(backend):
    history = [stored(f"h{i}", f"Remembered film number {i}", "x") for i in range(10)]
    per_title = tokens(backend, history[0].title)
    shown = ranker(backend, history_tokens=3 * per_title)._history(history)
    assert [h["title"] for h in shown] == [h.title for h in history[-3:]]  # newest three, oldest first


def test_history_facts_follow_each_title_within_their_budget(backend):
    from llmrec.catalog.cards import render_card
    from llmrec.catalog.schema import CatalogItem
    from llmrec.workspace import StoredItem

    def film(i, year, genres):
        row = CatalogItem(id=f"h{i}", title=f"Film {i}", fields={"year": year, "genres": genres,
                                                               "description": LONG})
        return StoredItem(id=row.id, title=row.title, item=row, card=render_card(row, [], []), card_hash="",
                          embedded_hash=None, media=[])

    history = [film(1, "1986", "Action, Sci-Fi"), film(2, "1994", "Comedy, Romance, Drama, War, Western")]
    shown = ranker(backend, history_facts_tokens=14)._history(history)
    assert shown[0]["summary"].startswith("1986; Action, Sci-Fi") and shown[1]["summary"].startswith("1994; Comedy")
    assert all(tokens(backend, h["summary"]) <= 14 + 1 for h in shown)
    prompt, _ = ranker(backend, history_facts_tokens=14).build_prompt("", history, [stored("a", "Jaws", "Shark.")])
    assert f"- <<<Film 1: {shown[0]['summary']}>>>" in prompt.text
    plain, _ = ranker(backend).build_prompt("", history, [stored("a", "Jaws", "Shark.")])
    assert "- <<<Film 1>>>" in plain.text and "1986" not in plain.text  # off by default: titles alone


def test_without_budgets_the_prompt_is_bounded_by_counts_and_characters_only(backend):
    history = [stored(f"h{i}", f"Film {i}", "x") for i in range(12)]
    r = ranker(backend, history_in_prompt=10)
    assert len(r._history(history)) == 10


def test_budgets_shrink_the_prompt(backend):
    items = [stored(f"i{i}", f"Sea story {i}", LONG) for i in range(20)]
    history = [stored(f"h{i}", f"Remembered film number {i}", "x") for i in range(10)]
    full, _ = ranker(backend).build_prompt("sea films", history, items)
    cut, _ = ranker(backend, option_tokens=16, history_tokens=40).build_prompt("sea films", history, items)
    assert tokens(backend, cut.text) < tokens(backend, full.text) / 2


def test_a_cut_summary_ends_at_a_whole_value_not_inside_one(backend):
    from llmrec.catalog.cards import render_card
    from llmrec.catalog.schema import CatalogItem
    from llmrec.workspace import StoredItem

    row = CatalogItem(id="a", title="Aliens", fields={"year": "1986", "genres": "Action, Adventure, Horror, Sci-Fi",
                                                      "director": "James Cameron"})
    item = StoredItem(id="a", title="Aliens", item=row, card=render_card(row, [], []), card_hash="",
                      embedded_hash=None, media=[])
    summary = ranker(backend, option_tokens=12)._options([item])[0]["summary"]
    assert summary.endswith("\u2026")
    body = summary.removesuffix("\u2026")
    assert body and "1986; Action, Adventure, Horror, Sci-Fi; director James Cameron".startswith(body)
    assert body.split(", ")[-1].split("; ")[-1] in {"1986", "Action", "Adventure", "Horror", "Sci-Fi"}


def test_the_default_ranker_runs_within_budgets():
    config = RankerConfig()
    assert config.option_tokens and config.history_tokens
