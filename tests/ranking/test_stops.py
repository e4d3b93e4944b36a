"""Where a generated justification ends: at the JSON string's closing quote, never at an escaped quote inside it."""

from llmrec.explain.justifier import _finish
from llmrec.ranking.backends.base import cut_at_stop


def test_an_escaped_quote_does_not_end_the_string():
    raw = 'It stars in \\"Arrival\\", a quiet film." , "x": 1'
    assert cut_at_stop(raw, '"') == ('It stars in \\"Arrival\\", a quiet film.', True)


def test_a_quote_after_an_escaped_backslash_does_end_it():
    assert cut_at_stop('a path C:\\\\" rest', '"') == ("a path C:\\\\", True)


def test_a_newline_ends_the_text_whichever_comes_first():
    assert cut_at_stop('first line\nsecond" x', '"') == ("first line", True)
    assert cut_at_stop("no stop here", '"') == ("no stop here", False)
    assert cut_at_stop("ends here. END more", "END") == ("ends here. ", True)


def test_finish_decodes_json_escapes_into_plain_text():
    assert _finish('Like \\"Arrival\\", it is slow\\tand calm.') == 'Like "Arrival", it is slow and calm.'


def test_finish_keeps_text_that_is_not_a_valid_json_body():
    assert _finish('Ends in a lone backslash \\') == "Ends in a lone backslash \\"


def test_finish_trims_a_cut_off_tail_to_the_last_sentence():
    assert _finish("A calm, thoughtful drama. It was made in the year of the\u2026") == "A calm, thoughtful drama."
