"""The LLM writes from the reasons, not the card, for the k items in one batch; a sentence that fails the checks or
states none of its reasons is replaced by the template sentence of the same reasons. The scripted backends stand in
for the LLM only (the checks, reasons and template are the real ones)."""

from __future__ import annotations

from llmrec.config import JustificationConfig
from llmrec.explain.justifier import Justifier
from llmrec.prompts import default_library, plain_chat

QUERY = "a podcast episode about volcanoes"
ITEMS = ["pod-field-notes-12", "pod-field-notes-11", "pod-orbit-hour-weigh"]


class Scripted:
    """Writes the given words for every prompt: the rest of the JSON string the frame opened with the item's title."""

    chat = staticmethod(plain_chat)

    def __init__(self, sentence: str):
        self.sentence = sentence
        self.calls: list[list[str]] = []

    def complete(self, prompts, max_new_tokens, stop, seed=None):
        self.calls.append(list(prompts))
        return [self.sentence for _ in prompts]


def run(backend, demo_items, demo_facets, demo_values, demo_parser, retries=1):
    justifier = Justifier(backend, default_library(), JustificationConfig(enabled=True, retries=retries))
    items = [demo_items[i] for i in ITEMS]
    return justifier, justifier.justify(QUERY, items, items, [], interpretation=demo_parser.parse(QUERY),
                                        facets=demo_facets, values=demo_values)


def test_the_k_items_are_generated_in_one_batch_from_their_reasons_not_their_cards(
        demo_items, demo_facets, demo_values, demo_parser):
    backend = Scripted(" is a podcast episode hosted by Dana Whitfield.")
    run(backend, demo_items, demo_facets, demo_values, demo_parser, retries=0)
    [batch] = backend.calls
    assert len(batch) == len(ITEMS)
    volcano = batch[0]
    assert "volcanoes of Iceland" in volcano  # the reason quoting the transcript...
    assert "sounds like: speech" not in volcano and "Episode: 12" not in volcano  # ...not the card


def test_a_sentence_that_passes_the_checks_and_states_a_reason_is_shown_with_that_reasons_evidence(
        demo_items, demo_facets, demo_values, demo_parser):
    backend = Scripted(", hosted by Dana Whitfield, is about the volcanoes of Iceland.")
    _, [volcano, *_] = run(backend, demo_items, demo_facets, demo_values, demo_parser)
    assert volcano.generated and volcano.justification == demo_items[ITEMS[0]].title + backend.sentence
    assert "card:audio 1" in volcano.evidence and volcano.evidence == [e for r in volcano.reasons for e in r.evidence
                                                                        if e in volcano.evidence]


def test_a_true_sentence_that_states_none_of_its_reasons_is_replaced_by_the_template(
        demo_items, demo_facets, demo_values, demo_parser):
    backend = Scripted(" is a podcast episode from 2023.")  # true of the first, and none of its reasons
    _, out = run(backend, demo_items, demo_facets, demo_values, demo_parser)
    assert len(backend.calls) == 2  # tried, retried once, then the template
    assert all(not j.generated for j in out)
    assert [p.split(": ")[1] for p in out[0].problems] == ["states-no-reason"] * 2
    assert "volcanoes" in out[0].justification


def test_a_false_sentence_is_never_shown(demo_items, demo_facets, demo_values, demo_parser):
    backend = Scripted(" is a 1999 episode that won three awards, hosted by Ravi Menon.")
    _, [volcano, *_] = run(backend, demo_items, demo_facets, demo_values, demo_parser)
    assert not volcano.generated and volcano.problems
    assert "1999" not in volcano.justification and "volcanoes" in volcano.justification


def test_items_come_one_by_one_and_one_item_alone_gets_the_same_sentence(demo_items, demo_facets, demo_values,
                                                                        demo_parser):
    justifier = Justifier(None, default_library(), JustificationConfig(enabled=False))
    items = [demo_items[i] for i in ITEMS]
    ctx = justifier.context(QUERY, items, items, [], interpretation=demo_parser.parse(QUERY), facets=demo_facets,
                            values=demo_values)
    streamed = justifier.iter_justify(ctx)
    first = next(streamed)
    assert first.item_id == ITEMS[0]
    rest = list(streamed)
    assert [j.item_id for j in rest] == ITEMS[1:]
    assert justifier.justify_one(ctx, items[1]) == rest[0]


def test_the_frame_opens_each_sentence_with_its_own_title_so_every_justification_names_its_item(
        demo_items, demo_facets, demo_values, demo_parser):
    backend = Scripted(" is a podcast episode about the volcanoes of Iceland.")
    _, out = run(backend, demo_items, demo_facets, demo_values, demo_parser, retries=0)
    [batch] = backend.calls
    for prompt, item_id in zip(batch, ITEMS):
        assert prompt.endswith('"justification": "' + demo_items[item_id].title)
    assert out[0].generated and out[0].justification.startswith(demo_items[ITEMS[0]].title + " is a podcast")


def test_the_worked_example_has_the_shape_of_the_case_so_an_anonymous_request_is_not_shown_a_history_reason(
        demo_items, demo_facets, demo_values, demo_parser):
    backend = Scripted(" is a podcast episode about the volcanoes of Iceland.")
    run(backend, demo_items, demo_facets, demo_values, demo_parser, retries=0)
    anonymous = backend.calls[0][0]
    assert "Request: a tense thriller" in anonymous and "which you enjoyed" not in anonymous


def test_a_sentence_cut_off_by_the_token_limit_ends_at_its_last_whole_clause(
        demo_items, demo_facets, demo_values, demo_parser):
    backend = Scripted(" is a podcast episode about the volcanoes of Iceland, hosted by Dana Whitfield, which\u2026")
    _, [volcano, *_] = run(backend, demo_items, demo_facets, demo_values, demo_parser, retries=0)
    assert volcano.justification == demo_items[ITEMS[0]].title + \
        " is a podcast episode about the volcanoes of Iceland, hosted by Dana Whitfield."
