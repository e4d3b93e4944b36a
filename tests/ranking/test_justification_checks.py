"""The justifier's checks reject a generated sentence that cites a number, a request word or another item the card
and history do not back, and accept one that keeps to them."""

from __future__ import annotations

import pytest

from llmrec.explain.evidence import justification_problems, link_evidence
from llmrec.workspace import StoredItem

HEAT_CARD = "Title: Heat\nYear: 1995\nGenres: Action, Crime, Thriller\nDirector: Michael Mann\nRuntime: 170 minutes"
CATALOG = ["Heat", "Godfather, The", "The Matrix", "12 Angry Men", "Up", "Love", "Speed", "Michael"]


def stored(item_id: str, title: str, card: str = "") -> StoredItem:
    return StoredItem(id=item_id, title=title, item=None, card=card or f"Title: {title}", card_hash="",
                      embedded_hash=None, media=[])


HEAT = stored("m1", "Heat", HEAT_CARD)
GODFATHER = stored("m2", "Godfather, The", "Title: Godfather, The\nYear: 1972\nGenres: Crime, Drama")
UP = stored("m3", "Up")


def problems(text: str, others=(HEAT,), history=(), query: str = "", **kw) -> list[str]:
    return justification_problems(text, HEAT, list(others), list(history), query, 0.6, **kw)


def test_a_sentence_of_card_facts_passes():
    assert problems("Heat is a 1995 crime thriller by Michael Mann that runs 170 minutes.") == []


@pytest.mark.parametrize("text, number", [
    ("Heat is a 95 minute crime thriller from director Michael Mann.", "95"),  # a piece of 1995 is not 95
    ("Heat is a tense crime thriller from director Michael Mann that runs 2 hours.", "2"),
    ("Heat is a tense crime thriller from director Michael Mann, rated 9.5 by critics.", "9.5"),
])
def test_a_number_must_be_a_whole_number_of_the_card(text, number):
    assert f"number {number} is not in the card or history" in problems(text)


def test_a_decade_must_hold_the_cards_year():
    assert problems("Heat is a 1990s crime thriller by Michael Mann.") == []
    assert problems("Heat is a 90s crime thriller by Michael Mann.") == []
    assert problems("Heat is a 1980s crime thriller by Michael Mann.") == ["the 1980s are not the card's decade"]


def test_request_words_do_not_back_what_is_said_about_the_item():
    found = problems("Heat stars Pacino and Kilmer in a heist thriller.",
                     query="a heist thriller with al pacino and val kilmer")
    assert any(p.startswith("only 33% of its words") for p in found)


def test_request_words_and_numbers_back_what_is_said_about_the_request():
    assert problems("You asked for a heist under 3 hours, and Heat is a crime thriller by Michael Mann.",
                    query="a heist under 3 hours") == []


def test_a_catalog_title_that_was_never_a_candidate_is_rejected_when_the_catalog_is_given():
    text = "Like The Matrix, Heat is a crime thriller by Michael Mann."
    assert problems(text) == []  # callers that pass no catalog see the old checks
    assert problems(text, catalog_titles=CATALOG) == [
        "names an item that was not among the candidates: 'The Matrix'"]


@pytest.mark.parametrize("text, title", [
    ("Heat is a crime thriller by Michael Mann, a bit like 12 Angry Men.", "12 Angry Men"),
    ("Heat is a crime thriller by Michael Mann, a bit like Up.", "Up"),
])
def test_titles_opening_with_a_digit_or_under_four_letters_are_caught(text, title):
    assert f"names an item that was not among the candidates: {title!r}" in problems(text, catalog_titles=CATALOG)


def test_titles_that_are_ordinary_words_or_part_of_a_name_are_not_mentions():
    text = "Speed and love: Heat is a crime thriller by Michael Mann that picks up the pace."
    assert not [p for p in problems(text, catalog_titles=CATALOG) if p.startswith("names")]


def test_a_title_with_its_article_moved_to_the_end_is_recognised_as_written_in_prose():
    text = "Like The Godfather, Heat is a crime thriller by Michael Mann."
    assert problems(text, others=(HEAT, GODFATHER)) == ["names another item: 'Godfather, The'"]
    assert problems(text, others=(HEAT, GODFATHER), history=(GODFATHER,)) == []
    assert "history:m2" in link_evidence(text, HEAT, [GODFATHER])


def test_a_short_candidate_title_counts_only_written_as_a_title():
    assert problems("Like Up, Heat is a crime thriller by Michael Mann.", others=(HEAT, UP)) == [
        "names another item: 'Up'"]
    assert problems("Heat is a crime thriller by Michael Mann that picks up the pace.", others=(HEAT, UP)) == []
