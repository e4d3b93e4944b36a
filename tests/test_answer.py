"""An answer in two steps: ``Recommender.rank`` gives the ranked list and records nothing; ``Recommender.justify``
yields each justification in rank order and stores the answer's one audit record when the last is written (or when
the stream is closed early, with what was written). ``ask`` is the two back to back."""

from __future__ import annotations

import pytest

from llmrec.testing.gated import gate_justifier

QUERY = "a gentle science fiction film about space"


@pytest.fixture
def batched(text_workspace, llm_backend):
    """A Recommender (card-fact justifications) writing one justification per model call, calls counted."""
    from llmrec.recommender import Recommender

    rec = Recommender(text_workspace)
    rec.config.justification.enabled = False
    rec.config.justification.batch = 1
    rec.__dict__["backend"] = llm_backend
    gate_justifier(rec).allow(100)
    return rec


def test_rank_gives_the_list_and_records_nothing_until_every_justification_is_written(recommender):
    store = recommender.audit_store
    before = store.count()
    answer = recommender.rank(QUERY, k=3)
    assert [it.rank for it in answer.ranked.items] == [1, 2, 3] and answer.recommendation is None
    assert store.count() == before
    stream = recommender.justify(answer)
    first = next(stream)
    assert (first.item_id, first.rank) == (answer.ranked.items[0].item_id, 1)
    rest = list(stream)
    assert [j.rank for j in rest] == [2, 3]
    assert store.count() == before + 1
    record = store.get(answer.request_id)
    assert [it.justification for it in record.items] == [j.justification for j in (first, *rest)]
    assert record.items == answer.recommendation.items


def test_ask_is_rank_then_justify(recommender):
    asked = recommender.ask(QUERY, k=3)
    answer = recommender.rank(QUERY, k=3)
    streamed = list(recommender.justify(answer))
    assert [(it.item_id, it.justification, it.evidence) for it in asked.items] == \
        [(j.item_id, j.justification, j.evidence) for j in streamed]
    assert asked.timings.justify_s >= 0 and asked.timings.total_s >= asked.timings.rank_s


def test_justifications_are_written_one_batch_per_model_call(batched):
    answer = batched.rank(QUERY, k=3)
    assert len(list(batched.justify(answer))) == 3 and batched.justifier.calls == 3
    batched.config.justification.batch = None  # the default: the k items as one batch
    answer = batched.rank(QUERY, k=3)
    assert len(list(batched.justify(answer))) == 3 and batched.justifier.calls == 4


def test_a_stream_closed_early_records_the_answer_once_with_what_was_written(batched):
    store = batched.audit_store
    before = store.count()
    answer = batched.rank(QUERY, k=3)
    stream = batched.justify(answer)
    written = next(stream)
    stream.close()
    stream.close()
    assert list(stream) == [] and store.count() == before + 1
    record = store.get(answer.request_id)
    assert [it.justification for it in record.items] == [written.justification, "", ""]
    assert any("closed before 2 of 3" in n for n in record.notices)
