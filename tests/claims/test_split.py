"""Justifications split into atomic claims the same way every time."""

from llmrec.claims.split import split_claims


def texts(text, protected=()):
    return [c.text for c in split_claims(text, protected)]


def test_sentences_and_semicolons_are_separate_claims():
    assert texts("A slow film. It has no violence; it runs 128 minutes!") == [
        "A slow film", "It has no violence", "it runs 128 minutes"]


def test_and_between_clauses_splits_but_and_between_words_does_not():
    assert texts("It was directed by Lena Marsh and runs 128 minutes.") == [
        "It was directed by Lena Marsh", "runs 128 minutes"]
    assert texts("A slow and quiet film.") == ["A slow and quiet film"]


def test_commas_split_only_where_a_new_clause_starts():
    assert texts("Directed by Lena Marsh in 2019, The Quiet Orbit is a patient film.") == [
        "Directed by Lena Marsh in 2019", "The Quiet Orbit is a patient film"]
    assert texts("A patient, contemplative film about distance, memory and time.") == [
        "A patient, contemplative film about distance, memory and time"]


def test_protected_titles_are_never_split():
    assert texts("Fans of Dust and Psalms will like this western by Wade Callahan.", ["Dust and Psalms"]) == [
        "Fans of Dust and Psalms will like this western by Wade Callahan"]


def test_abbreviations_and_decimals_do_not_end_a_sentence():
    assert texts("Dr. Marsh made a 3.5 hour epic.") == ["Dr. Marsh made a 3.5 hour epic"]


def test_claim_offsets_point_into_the_justification():
    text = "A slow film. It has no violence."
    for c in split_claims(text):
        assert text[c.start:c.end] == c.text


def test_the_same_text_always_gives_the_same_claims():
    text = "Since you liked Iron Meridian, this is more action: a bodyguard on a sleeper train, and it is tense."
    assert split_claims(text) == split_claims(text)
