"""Reasons before words: each returned item gets typed candidate reasons with their sources (the request's words in
a card field or its media text, enjoyed history items sharing people or genres, who else enjoyed it, what sets it
apart), and the best one or two are kept."""

from __future__ import annotations

from llmrec.explain.context import JustificationContext
from llmrec.explain.gather import candidate_reasons
from llmrec.explain.scoring import choose


def context(demo_items, demo_facets, demo_values, query="", interpretation=None, items=(), candidates=(),
            history=(), ratings=None, **more) -> JustificationContext:
    return JustificationContext(query=query, items=[demo_items[i] for i in items],
                                candidates=[demo_items[i] for i in candidates or items], history=list(history),
                                interpretation=interpretation, ratings=ratings or {}, facets=demo_facets,
                                values=demo_values, **more)


PODCASTS = ["pod-field-notes-12", "pod-field-notes-11", "pod-orbit-hour-weigh", "pod-tiny-histories-map"]


def test_a_request_word_only_the_audio_holds_is_the_first_reason_quoting_the_transcript(
        demo_items, demo_facets, demo_values, demo_parser):
    query = "a podcast episode about volcanoes"
    ctx = context(demo_items, demo_facets, demo_values, query, demo_parser.parse(query), PODCASTS)
    [first, *_] = choose(candidate_reasons(demo_items["pod-field-notes-12"], ctx))
    assert first.kind == "request" and first.media_only
    assert first.quote.source == "audio" and "volcanoes of Iceland" in first.quote.text
    assert "card:audio 1" in first.evidence


def test_conditions_the_item_meets_are_stated_as_its_own_card_facts(demo_items, demo_facets, demo_values,
                                                                    demo_parser):
    query = "a horror film from 2024"
    ctx = context(demo_items, demo_facets, demo_values, query, demo_parser.parse(query),
                  ["film-whisper-lake", "film-saltmarsh"])
    [request] = [r for r in candidate_reasons(demo_items["film-whisper-lake"], ctx) if r.kind == "request"]
    assert {(f.role, f.value) for f in request.facts} >= {("year", "2024"), ("genre", "Horror"), ("kind", "film")}
    assert {"card:year", "card:genres", "card:kind"} <= set(request.evidence)


def test_the_history_reason_names_the_enjoyed_item_sharing_the_most(demo_items, demo_facets, demo_values,
                                                                   demo_history):
    history, ratings = demo_history["ivan"]
    ctx = context(demo_items, demo_facets, demo_values, "", None,
                  ["film-lantern-keepers-daughter", "film-whisper-lake"], history=history, ratings=ratings)
    [reason] = [r for r in candidate_reasons(demo_items["film-lantern-keepers-daughter"], ctx) if r.kind == "history"]
    # The Ghosts of Calder Street is Horror and Gothic, like the item; the other horror films share only Horror.
    assert reason.history[0] == "book-ghosts-calder-street"
    assert {f.value for f in reason.facts} >= {"Horror", "Gothic"}
    assert reason.rated_highly and "history:book-ghosts-calder-street" in reason.evidence


def test_an_item_the_user_rated_low_is_never_named(demo_items, demo_facets, demo_values, demo_history):
    history, ratings = demo_history["sam"]  # sam rated Saltmarsh 1 (horror); nothing else he saw is horror
    ctx = context(demo_items, demo_facets, demo_values, "", None, ["film-hollow-choir"], history=history,
                  ratings=ratings)
    named = [h for r in candidate_reasons(demo_items["film-hollow-choir"], ctx) for h in r.history]
    assert "film-saltmarsh" not in named


def test_who_else_enjoyed_it_is_said_only_of_candidates_the_collaborative_model_proposed(
        demo_items, demo_facets, demo_values, demo_history):
    history, ratings = demo_history["ivan"]
    calls = []

    def cooccurrence(item_id, history_ids):
        calls.append(item_id)
        return {"film-hollow-choir": 3}

    def reasons(collaborative):
        ctx = context(demo_items, demo_facets, demo_values, "", None, ["film-whisper-lake"], history=history,
                      ratings=ratings, cooccurrence=cooccurrence, collaborative=frozenset(collaborative))
        return [r for r in candidate_reasons(demo_items["film-whisper-lake"], ctx) if r.kind == "collaborative"]

    assert reasons([]) == [] and calls == []  # never claimed without the model
    [found] = reasons(["film-whisper-lake"])
    assert found.history == ["film-hollow-choir"] and found.co_users == 3
    assert found.evidence == ["collaborative:film-hollow-choir"]


def test_nobody_in_common_is_no_collaborative_reason_and_one_person_is_said_as_someone(
        demo_items, demo_facets, demo_values, demo_history):
    from llmrec.claims import Catalog, Grounds
    from llmrec.config import JustificationConfig
    from llmrec.explain.justifier import Justifier
    from llmrec.prompts import default_library

    history, ratings = demo_history["ivan"]

    def reasons(count):
        ctx = context(demo_items, demo_facets, demo_values, "", None, ["film-whisper-lake"], history=history,
                      ratings=ratings, cooccurrence=lambda i, h: {"film-hollow-choir": count} if count else {},
                      collaborative=frozenset(["film-whisper-lake"]))
        return [r for r in candidate_reasons(demo_items["film-whisper-lake"], ctx) if r.kind == "collaborative"]

    assert reasons(0) == []
    [one] = reasons(1)
    justifier = Justifier(None, default_library(), JustificationConfig())
    text = justifier.realiser.sentence([one])
    assert text == "Someone who enjoyed The Hollow Choir also enjoyed it."
    catalog = Catalog.from_cards({i: (s.title, s.card) for i, s in demo_items.items()})
    grounds = Grounds.from_items(demo_items["film-whisper-lake"], history, [demo_items["film-whisper-lake"]])
    assert justifier.checks.problems(text, grounds, catalog)[1] == []


def test_the_distinct_reason_states_what_few_other_candidates_share(demo_items, demo_facets, demo_values):
    films = ["film-quiet-orbit", "film-iron-meridian", "film-static-bloom", "film-afterglow-protocol"]
    ctx = context(demo_items, demo_facets, demo_values, "", None, films)
    [distinct] = [r for r in candidate_reasons(demo_items["film-quiet-orbit"], ctx) if r.kind == "distinct"]
    assert all(f.share <= 1 / 3 for f in distinct.facts if f.role != "kind")
    assert ("direct", "Lena Marsh") in {(f.role, f.value) for f in distinct.facts}  # "Science fiction": all share it


def test_at_most_two_reasons_are_kept_each_of_another_kind_best_first(demo_items, demo_facets, demo_values,
                                                                      demo_parser, demo_history):
    history, ratings = demo_history["noor"]
    query = "a podcast episode about volcanoes"
    ctx = context(demo_items, demo_facets, demo_values, query, demo_parser.parse(query), PODCASTS,
                  history=history, ratings=ratings)
    kept = choose(candidate_reasons(demo_items["pod-field-notes-12"], ctx))
    assert [r.kind for r in kept] == ["request", "history"]
    assert kept[0].score > kept[1].score
    assert len(choose(candidate_reasons(demo_items["pod-field-notes-12"], ctx), most=1)) == 1
