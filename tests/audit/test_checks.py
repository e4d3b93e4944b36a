"""Claim checks label each claim against the item card and the user's history, with the evidence found."""

from __future__ import annotations

import pytest

from llmrec.audit.checks import ExplanationChecker
from llmrec.claims import Grounds
from llmrec.config import AuditConfig

CARDS = {
    "film-a": ("The Quiet Orbit", """Title: The Quiet Orbit
Kind: film
Year: 2019
Director: Lena Marsh
Genres: Science fiction, Drama
Runtime: 128 min
Description: A maintenance engineer alone on a relay station receives letters from a ship that left a century ago.
 A patient, contemplative film.
Content advice: No violence.
Image 1: text in image: "SOMEONE IS STILL WRITING BACK";
Audio 1: transcript: "Welcome aboard the relay, where the volcanoes of Io glow all night.";"""),
    "film-b": ("Iron Meridian", """Title: Iron Meridian
Kind: film
Year: 2021
Director: Cole Varga
Genres: Science fiction, Action
Description: Six mercenaries fight through a mining colony overrun by combat drones."""),
    "film-c": ("The Hollow Choir", """Title: The Hollow Choir
Kind: film
Year: 2018
Director: Marek Novak
Genres: Horror, Supernatural
Description: A village choir hears one voice too many."""),
    "film-d": ("Saltmarsh", """Title: Saltmarsh
Kind: film
Year: 2015
Director: Eamon Flynn
Genres: Horror, Folk horror
Description: A family inherits a farmhouse on the tidal flats."""),
}


@pytest.fixture(scope="module")
def checker():
    return ExplanationChecker.from_cards(CARDS, config=AuditConfig(judge=False))


def subject(item="film-a", history=(), candidates=None):
    return Grounds(item_id=item, title=CARDS[item][0], card=CARDS[item][1],
                   history={h: CARDS[h][0] for h in history}, history_cards={h: CARDS[h][1] for h in history},
                   candidates=set(candidates) if candidates is not None else None)


def findings(verdict, check):
    return [f for c in verdict.claims for f in c.findings if f.check == check]


def test_a_justification_made_of_card_facts_is_fully_supported(checker):
    v = checker.check(subject(), "The Quiet Orbit is a patient, contemplative science-fiction drama from Lena "
                                 "Marsh, released in 2019; it runs 128 minutes and has no violence.")
    assert [c.label for c in v.claims] == ["supported"] * len(v.claims) and v.claims
    assert not any(v.flags.model_dump().values())
    assert "card:director = Lena Marsh" in {e for c in v.claims for e in c.evidence}


def test_a_wrong_release_year_is_contradicted_with_the_cards_year_as_evidence(checker):
    v = checker.check(subject(), "Released in 2009, it is a patient film about a relay station.")
    year = findings(v, "year")[0]
    assert year.label == "contradicted" and year.evidence == ["card:year = 2019"]
    assert v.flags.wrong_year_or_number and v.flags.hallucination


def test_a_year_the_card_never_mentions_is_contradicted_when_the_card_has_a_year(checker):
    v = checker.check(subject(), "A contemplative film from the summer of 1999.")
    assert findings(v, "year")[0].label == "contradicted"


def test_a_runtime_that_differs_from_the_card_is_contradicted_and_a_stray_number_unsupported(checker):
    v = checker.check(subject(), "It runs 95 minutes. Three engineers share the relay station.")
    assert [f.label for f in findings(v, "number")] == ["contradicted", "unsupported"]
    assert v.flags.wrong_year_or_number


def test_someone_else_in_the_directors_chair_is_contradicted(checker):
    v = checker.check(subject(), "A patient film directed by Cole Varga.")
    name = findings(v, "name")[0]
    assert name.label == "contradicted" and "card:director = Lena Marsh" in name.evidence
    assert v.flags.invented_person_or_title


def test_an_actor_the_card_does_not_name_is_an_invented_person(checker):
    v = checker.check(subject(), "A patient film starring Tom Hanks as the engineer.")
    assert findings(v, "name")[0].label == "unsupported"
    assert v.flags.invented_person_or_title and v.flags.hallucination


def test_a_genre_the_card_lacks_is_contradicted_and_one_it_has_is_supported(checker):
    wrong = checker.check(subject(), "A patient horror film about a relay station.")
    assert findings(wrong, "genre")[0].label == "contradicted"
    assert "card:genres = Science fiction, Drama" in findings(wrong, "genre")[0].evidence
    right = checker.check(subject(), "A patient sci-fi drama about a relay station.")
    assert {f.label for f in findings(right, "genre")} == {"supported"}


def test_ambiguous_genre_words_in_ordinary_prose_are_not_genre_claims(checker):
    v = checker.check(subject("film-d"), "A family inherits a farmhouse on the tidal flats.")
    assert findings(v, "genre") == [] and not v.flags.hallucination


def test_negated_genres_are_not_claims_of_that_genre(checker):
    v = checker.check(subject(), "Not a horror film: a patient drama about a relay station.")
    assert all(f.label == "supported" for f in findings(v, "genre"))


def test_an_award_the_card_does_not_mention_is_unsupported(checker):
    v = checker.check(subject(), "This award-winning film follows an engineer on a relay station.")
    assert findings(v, "award")[0].label == "unsupported" and v.flags.hallucination


def test_naming_an_item_that_was_not_a_candidate_is_flagged(checker):
    v = checker.check(subject(candidates=["film-a", "film-b"]), "A patient film, as tense as Saltmarsh.")
    assert v.flags.non_candidate_mention and v.flags.hallucination
    ok = checker.check(subject(candidates=["film-a", "film-b"]), "A patient film, calmer than Iron Meridian.")
    assert not ok.flags.non_candidate_mention


def test_a_history_item_the_user_saw_is_evidence_and_is_cited(checker):
    v = checker.check(subject(history=["film-c"]), "Because you loved The Hollow Choir, try this patient film.")
    assert findings(v, "history")[0].label == "supported"
    assert "history:film-c (The Hollow Choir)" in findings(v, "history")[0].evidence
    assert v.cited_history == ["film-c"] and not v.flags.hallucination


def test_claiming_the_user_loved_an_item_they_never_saw_is_an_unsupported_history_claim(checker):
    v = checker.check(subject(history=["film-c"]), "Because you loved Saltmarsh, try this patient film.")
    assert findings(v, "history")[0].label == "unsupported"
    assert v.flags.unseen_history and v.flags.hallucination


def test_facts_only_in_the_media_text_count_as_card_facts(checker):
    v = checker.check(subject(), "Its poster says someone is still writing back, and the spoken intro mentions "
                                 "the volcanoes of Io.")
    assert not v.flags.hallucination, [(c.text, c.label) for c in v.claims]


def test_pure_opinion_is_kept_aside_not_counted_as_a_claim(checker):
    v = checker.check(subject(), "A great pick for tonight!")
    assert v.claims == [] and v.opinions == ["A great pick for tonight"]
    assert not v.flags.hallucination


def test_without_the_judge_a_claim_mostly_absent_from_the_card_is_unsupported(checker):
    v = checker.check(subject(), "A rousing story of pirates and buried treasure.")
    assert v.claims[0].label == "unsupported" and v.claims[0].method == "overlap"


def test_declared_history_evidence_is_cited_even_without_naming_the_title(checker):
    v = checker.check(subject(history=["film-c"]), "A patient film about a relay station.",
                      evidence=["card:description", "history:film-c"])
    assert v.cited_history == ["film-c"]
