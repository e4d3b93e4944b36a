"""Words from reasons: the template in ``prompts/`` states the chosen reasons as one readable sentence (never card
fields pasted together), the claim engine passes it, and its evidence names exactly the reasons it states."""

from __future__ import annotations

import pytest

from llmrec.claims import Catalog, Grounds
from llmrec.config import JustificationConfig
from llmrec.explain.justifier import Justifier
from llmrec.explain.realise import evidence_of
from llmrec.explain.usefulness import is_field_dump
from llmrec.prompts import default_library

REQUESTS = [  # (query, user, items returned)
    ("a podcast episode about volcanoes", None, ["pod-field-notes-12", "pod-field-notes-11", "pod-orbit-hour-weigh"]),
    ("something to watch on Friday night", "ivan", ["film-lantern-keepers-daughter", "film-whisper-lake",
                                                   "film-glass-harbour"]),
    ("a slow-burn science-fiction film, nothing too violent", None, ["film-quiet-orbit",
                                                                     "film-cartographer-of-tides"]),
    ("a horror film from 2024", "ada", ["film-whisper-lake"]),
    ("dragons in the snow", None, ["film-shepherd-of-harrow-fell", "film-ice-road"]),
    ("", "noor", ["pod-field-notes-12", "pod-orbit-hour-weigh", "book-field-guide-vanishing"]),
    ("a film directed by Lena Marsh", "kofi", ["film-quiet-orbit"]),
]


def template_justifier() -> Justifier:
    return Justifier(None, default_library(), JustificationConfig(enabled=False))


def justify(justifier, demo_items, demo_facets, demo_values, demo_parser, demo_history, query, user, ids):
    history, ratings = demo_history[user] if user else ([], {})
    items = [demo_items[i] for i in ids]
    candidates = items + [demo_items[i] for i in ("film-iron-meridian", "film-static-bloom", "pod-long-table-fish")]
    return justifier.justify(query, items, candidates, history, interpretation=demo_parser.parse(query) if query
                             else None, ratings=ratings, facets=demo_facets, values=demo_values), history, candidates


@pytest.mark.parametrize("query,user,ids", REQUESTS)
def test_template_sentences_read_as_one_sentence_and_pass_the_checks(demo_items, demo_facets, demo_values,
                                                                     demo_parser, demo_history, query, user, ids):
    justifier = template_justifier()
    out, history, candidates = justify(justifier, demo_items, demo_facets, demo_values, demo_parser, demo_history,
                                       query, user, ids)
    catalog = Catalog.from_cards({i: (s.title, s.card) for i, s in demo_items.items()})
    for j in out:
        text = j.justification
        assert text[0].isupper() and text.endswith((".", '".')) and text.count(". ") == 0, text
        assert not is_field_dump(text, demo_items[j.item_id].card), text
        grounds = Grounds.from_items(demo_items[j.item_id], history, candidates, query)
        assert justifier.checks.problems(text, grounds, catalog)[1] == [], text
        assert not j.generated and j.reasons


def test_the_template_states_the_request_and_the_history_as_the_issue_asks(demo_items, demo_facets, demo_values,
                                                                          demo_parser, demo_history):
    [volcano, *_], _, _ = justify(template_justifier(), demo_items, demo_facets, demo_values, demo_parser,
                                  demo_history, *REQUESTS[0])
    assert volcano.justification.startswith('You asked for a podcast episode about volcanoes: its audio says "')
    assert "volcanoes of Iceland" in volcano.justification
    [lantern, *_], _, _ = justify(template_justifier(), demo_items, demo_facets, demo_values, demo_parser,
                                  demo_history, *REQUESTS[1])
    assert lantern.justification == "Like The Ghosts of Calder Street, which you enjoyed, it is a horror and gothic film."


@pytest.mark.parametrize("query,user,ids", REQUESTS)
def test_the_evidence_names_exactly_the_reasons_the_sentence_states(demo_items, demo_facets, demo_values,
                                                                    demo_parser, demo_history, query, user, ids):
    out, history, _ = justify(template_justifier(), demo_items, demo_facets, demo_values, demo_parser,
                              demo_history, query, user, ids)
    for j in out:
        assert j.evidence == evidence_of(j.reasons) and j.evidence
        card = demo_items[j.item_id].card.lower()
        for e in j.evidence:
            kind, key = e.split(":", 1)
            if kind == "card":
                assert f"\n{key}:" in "\n" + card  # a field of this item's card (media lines included)
            else:
                assert kind in ("history", "collaborative") and key in {h.id for h in history}


def test_the_old_fallback_is_a_field_dump_and_a_sentence_is_not():
    card = "Title: Whisper Lake\nKind: film\nGenres: Horror, Mystery"
    assert is_field_dump("Whisper Lake — Genres: Horror, Mystery; Kind: film [card facts]", card)
    assert is_field_dump("Genres: Horror, Mystery", card)
    assert not is_field_dump("Like The Hollow Choir, which you enjoyed, it is a horror and mystery film.", card)
    assert not is_field_dump('You asked for a horror film: its audio says "ready or not".', card)
