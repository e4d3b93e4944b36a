"""The audit counts what makes a justification useful besides being true: field dumps (card fields pasted instead
of a sentence), personal (a request word the card has, or a history item, stated truthfully), and length."""

from __future__ import annotations

from llmrec.audit.checks import ExplanationChecker
from llmrec.audit.report import summarise
from llmrec.claims import Grounds
from llmrec.config import AuditConfig

CARDS = {
    "w": ("Whisper Lake", "Title: Whisper Lake\nKind: film\nYear: 2024\nGenres: Horror, Mystery\n"
                          "Description: Four old friends return to a lakeside cabin."),
    "h": ("The Hollow Choir", "Title: The Hollow Choir\nKind: film\nGenres: Horror, Supernatural"),
}
CHECKER = ExplanationChecker.from_cards(CARDS, config=AuditConfig(judge=False))


def grounds(query="", history=()):
    return Grounds(item_id="w", title="Whisper Lake", card=CARDS["w"][1], history={h: CARDS[h][0] for h in history},
                   history_cards={h: CARDS[h][1] for h in history}, candidates={"w", "h"}, query=query)


def test_the_old_fallback_is_counted_as_a_field_dump_and_a_sentence_is_not():
    dump, sentence = CHECKER.check_many([
        (grounds("a horror film"), "Whisper Lake — Genres: Horror, Mystery; Kind: film [card facts]", {}),
        (grounds("a horror film"), "You asked for a horror film: it is a 2024 horror and mystery film.", {})])
    assert dump.field_dump and not sentence.field_dump
    m = summarise([dump, sentence], "overall")
    assert (m.field_dumps, m.field_dump_rate) == (1, 0.5)


def test_personal_means_a_request_word_the_card_has_or_a_history_item_named():
    asked, liked, generic, nobody = CHECKER.check_many([
        (grounds("a horror film"), "It is a 2024 horror film.", {}),
        (grounds(history=("h",)), "Like The Hollow Choir, which you enjoyed, it is a horror film.", {}),
        (grounds("a lakeside mystery"), "It is a film from 2024.", {}),  # true, but says nothing asked
        (grounds(), "It is a film from 2024.", {})])  # neither text nor history: not counted
    assert [v.personal for v in (asked, liked, generic, nobody)] == [True, True, False, None]
    m = summarise([asked, liked, generic, nobody], "overall")
    assert (m.personal, m.personal_eligible, m.personal_rate) == (2, 3, 0.6667)
    assert m.average_words == round(sum(v.words for v in (asked, liked, generic, nobody)) / 4, 2)
