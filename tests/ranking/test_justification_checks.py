"""The justifier's checks reject a generated sentence that cites a number, a request word or another item the card
and history do not back, and accept one that keeps to them. Each refusal names the rule that refused it (the claim
engine's, shared with the audit, or the justifier's own policy) and the words it is about."""

from __future__ import annotations

import pytest

from llmrec.claims import Grounds
from llmrec.config import JustificationConfig
from llmrec.explain.acceptance import JustificationChecks, evidence
from llmrec.workspace import StoredItem

HEAT_CARD = "Title: Heat\nYear: 1995\nGenres: Action, Crime, Thriller\nDirector: Michael Mann\nRuntime: 170 minutes"
CATALOG = ["Heat", "Godfather, The", "The Matrix", "12 Angry Men", "Up", "Love", "Speed", "Michael"]
CHECKS = JustificationChecks(JustificationConfig(min_support=0.6))


def stored(item_id: str, title: str, card: str = "") -> StoredItem:
    return StoredItem(id=item_id, title=title, item=None, card=card or f"Title: {title}", card_hash="",
                      embedded_hash=None, media=[])


HEAT = stored("m1", "Heat", HEAT_CARD)
GODFATHER = stored("m2", "Godfather, The", "Title: Godfather, The\nYear: 1972\nGenres: Crime, Drama")
UP = stored("m3", "Up")


def check(text: str, others=(HEAT,), history=(), query: str = "", catalog_titles=()):
    """(verdict, problems) of ``text`` said of Heat, as the justifier checks it."""
    catalog = CHECKS.catalog([HEAT, *others, *history], catalog_titles)
    return CHECKS.problems(text, Grounds.from_items(HEAT, history, others, query), catalog)


def problems(text: str, **kw) -> list[str]:
    return [str(p) for p in check(text, **kw)[1]]


def refused(text: str, **kw) -> set[tuple[str, str]]:
    """(rule, what it is about) of each reason ``text`` must not be shown."""
    return {(p.rule, p.about) for p in check(text, **kw)[1]}


def test_a_sentence_of_card_facts_passes():
    assert problems("Heat is a 1995 crime thriller by Michael Mann that runs 170 minutes.") == []


@pytest.mark.parametrize("text, number", [
    ("Heat is a 95 minute crime thriller from director Michael Mann.", "95"),  # a piece of 1995 is not 95
    ("Heat is a tense crime thriller from director Michael Mann that runs 2 hours.", "2"),
    ("Heat is a tense crime thriller from director Michael Mann, rated 9.5 by critics.", "9.5"),
])
def test_a_number_must_be_a_whole_number_of_the_card(text, number):
    assert ("number", number) in refused(text)


def test_a_decade_must_hold_the_cards_year():
    assert problems("Heat is a 1990s crime thriller by Michael Mann.") == []
    assert problems("Heat is a 90s crime thriller by Michael Mann.") == []
    assert refused("Heat is a 1980s crime thriller by Michael Mann.") == {("year", "1980s")}


def test_request_words_do_not_back_what_is_said_about_the_item():
    text, query = "Heat stars Pacino and Kilmer in a heist thriller.", "a heist thriller with al pacino and val kilmer"
    found = problems(text, query=query)
    assert any(p.startswith("only 33% of its words") for p in found)
    assert ("name", "Pacino") in refused(text, query=query)  # the request names him, the card does not


def test_request_words_and_numbers_back_what_is_said_about_the_request():
    assert problems("You asked for a heist under 3 hours, and Heat is a crime thriller by Michael Mann.",
                    query="a heist under 3 hours") == []


def test_a_catalog_title_that_was_never_a_candidate_is_rejected_when_the_catalog_is_given():
    text = "Like The Matrix, Heat is a crime thriller by Michael Mann."
    assert refused(text) == {("name", "Matrix")}  # without the catalog it is still a name the card lacks
    assert refused(text, catalog_titles=CATALOG) == {("non-candidate", "The Matrix")}
    assert problems(text, catalog_titles=CATALOG) == ["names 'The Matrix', which was not among the candidates"]


@pytest.mark.parametrize("text, title", [
    ("Heat is a crime thriller by Michael Mann, a bit like 12 Angry Men.", "12 Angry Men"),
    ("Heat is a crime thriller by Michael Mann, a bit like Up.", "Up"),
])
def test_titles_opening_with_a_digit_or_under_four_letters_are_caught(text, title):
    assert ("non-candidate", title) in refused(text, catalog_titles=CATALOG)


def test_titles_that_are_ordinary_words_or_part_of_a_name_are_not_mentions():
    text = "Speed and love: Heat is a crime thriller by Michael Mann that picks up the pace."
    assert not [r for r in refused(text, catalog_titles=CATALOG) if r[0] in ("non-candidate", "other-candidate",
                                                                            "history", "name")]


def test_a_title_with_its_article_moved_to_the_end_is_recognised_as_written_in_prose():
    text = "Like The Godfather, Heat is a crime thriller by Michael Mann."
    assert problems(text, others=(HEAT, GODFATHER)) == ["names another item: 'Godfather, The'"]
    assert refused(text, others=(HEAT, GODFATHER)) == {("other-candidate", "Godfather, The")}
    verdict, found = check(text, others=(HEAT, GODFATHER), history=(GODFATHER,))
    assert found == []
    assert "history:m2" in evidence(verdict)


def test_a_short_candidate_title_counts_only_written_as_a_title():
    assert problems("Like Up, Heat is a crime thriller by Michael Mann.", others=(HEAT, UP)) == [
        "names another item: 'Up'"]
    assert problems("Heat is a crime thriller by Michael Mann that picks up the pace.", others=(HEAT, UP)) == []
