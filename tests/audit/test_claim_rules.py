"""Claim rules on a MovieLens-style catalog: true role, setting, genre and decade claims pass; invented people,
request-borrowed names, stray decimals and other catalog titles (however the catalog spells them) are flagged."""

from __future__ import annotations

import pytest

from llmrec.audit.checks import ExplanationChecker
from llmrec.claims import Grounds
from llmrec.config import AuditConfig

HEAT = "Title: Heat\nYear: 1995\nGenres: Action, Crime, Thriller\nDirector: Michael Mann\nRuntime: 170 minutes"
HEAT_WITH_CAST = (HEAT + "\nCast: Al Pacino, Robert De Niro\n"
                  "Description: A master thief and a detective clash in Los Angeles.\nIMDb rating: 8.3")
CARDS = {
    "m1": ("Heat", HEAT),
    "m2": ("Godfather, The", "Title: Godfather, The\nYear: 1972\nGenres: Crime, Drama"),
    "m3": ("The Matrix", "Title: The Matrix\nYear: 1999\nGenres: Action, Sci-Fi"),
    "m4": ("12 Angry Men", "Title: 12 Angry Men\nYear: 1957\nGenres: Drama"),
}


@pytest.fixture(scope="module")
def checker():
    return ExplanationChecker.from_cards(CARDS, config=AuditConfig(judge=False))


def heat(card: str = HEAT, query: str = "", candidates=("m1",)) -> Grounds:
    return Grounds(item_id="m1", title="Heat", card=card, candidates=set(candidates), query=query)


def flagged(verdict) -> set[str]:
    return {name for name, on in verdict.flags.model_dump().items() if on}


@pytest.mark.parametrize("text", [
    "Heat stars Al Pacino and Robert De Niro.",
    "Set in Los Angeles, Heat is a crime thriller.",
    "Heat is a crime thriller from Michael Mann, starring Al Pacino.",
])
def test_role_and_setting_claims_about_names_in_the_card_are_supported(checker, text):
    assert flagged(checker.check(heat(HEAT_WITH_CAST), text)) == set()


def test_a_starring_claim_about_someone_the_card_never_names_is_still_an_invented_person(checker):
    assert "invented_person_or_title" in flagged(checker.check(heat(HEAT_WITH_CAST), "Heat stars Tom Hanks."))


@pytest.mark.parametrize("text", [
    "Tarantino's Heat is a crime thriller from 1995.",
    "Pacino stars in this 1995 crime thriller from Michael Mann.",
])
def test_a_name_opening_the_sentence_is_checked_like_any_other_name(checker, text):
    assert "invented_person_or_title" in flagged(checker.check(heat(), text))


@pytest.mark.parametrize("text", [
    "Follows a master thief and a detective who clash in Los Angeles.",
    "Tense and relentless, Heat is a crime thriller by Michael Mann.",
])
def test_an_ordinary_word_opening_the_sentence_is_not_a_name(checker, text):
    assert "invented_person_or_title" not in flagged(checker.check(heat(HEAT_WITH_CAST), text))


def test_the_request_never_backs_a_name_claimed_for_the_item(checker):
    v = checker.check(heat(query="a heist thriller with Al Pacino"),
                      "Heat is a crime thriller by Michael Mann starring Al Pacino.")
    assert "invented_person_or_title" in flagged(v)


def test_the_request_backs_a_name_in_what_is_said_about_the_request(checker):
    v = checker.check(heat(query="a heist thriller with Al Pacino"),
                      "You asked for Al Pacino, and Heat is a crime thriller by Michael Mann.")
    assert "invented_person_or_title" not in flagged(v)


def test_a_decimal_the_card_lacks_is_a_wrong_number(checker):
    v = checker.check(heat(), "Heat is a tense crime thriller from director Michael Mann, rated 9.5 by critics.")
    assert "wrong_year_or_number" in flagged(v)


def test_a_decimal_the_card_has_is_supported(checker):
    assert flagged(checker.check(heat(HEAT_WITH_CAST), "Heat holds an 8.3 IMDb rating.")) == set()


def test_a_catalog_title_with_its_article_moved_to_the_end_is_recognised_as_written_in_prose(checker):
    text = "Like The Godfather, Heat is a crime thriller by Michael Mann."
    assert flagged(checker.check(heat(candidates=("m1", "m2")), text)) == set()
    assert flagged(checker.check(heat(candidates=("m1",)), text)) == {"hallucination", "non_candidate_mention"}


def test_a_catalog_title_opening_with_a_digit_is_a_title_not_a_number_and_a_name(checker):
    v = checker.check(heat(), "Heat is a crime thriller by Michael Mann, a bit like 12 Angry Men.")
    assert flagged(v) == {"hallucination", "non_candidate_mention"}


def test_a_capitalised_run_of_the_cards_genres_is_a_genre_claim_not_a_name(checker):
    assert flagged(checker.check(heat(), "Heat is an Action Crime Thriller by Michael Mann.")) == set()


def test_a_capitalised_run_of_wrong_genres_is_a_wrong_genre_not_an_invented_name(checker):
    v = checker.check(heat(), "Heat is a Horror Comedy film by Michael Mann.")
    assert v.flags.hallucination and not v.flags.invented_person_or_title
    assert any(f.check == "genre" and f.label == "contradicted" for c in v.claims for f in c.findings)


def test_a_two_digit_decade_is_checked_against_the_cards_year(checker):
    assert flagged(checker.check(heat(), "Heat is a 90s crime thriller by Michael Mann.")) == set()
    assert "wrong_year_or_number" in flagged(checker.check(heat(), "Heat is an 80s crime thriller by Michael Mann."))
