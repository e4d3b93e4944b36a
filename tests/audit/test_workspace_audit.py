"""The audit of recommendations a real Recommender served and recorded (SmolLM2 ranker, text workspace)."""

from __future__ import annotations

import time

import pytest

from llmrec.config import AuditConfig
from llmrec.audit.report import audit_records, audit_workspace
from llmrec.audit.store import AuditStore

NO_JUDGE = AuditConfig(judge=False)


@pytest.fixture(scope="module")
def served(recommender):
    """Two recommendations served now: one anonymous, one for a user with history."""
    since = time.time()
    recs = [recommender.ask("a slow, quiet science fiction film", k=2),
            recommender.ask("something gentle", user_id="scifi_fan", k=2)]
    return since, recs


def test_every_served_recommendation_is_in_the_audit_store(recommender, served):
    since, recs = served
    store = AuditStore(recommender.workspace.root / "audit.sqlite")
    stored = {r.request_id: r for r in store.iter_records(since)}
    for rec in recs:
        record = stored[rec.request_id]
        assert [i.item_id for i in record.items] == [i.item_id for i in rec.items]
        assert {c.item_id for c in record.candidates} >= {i.item_id for i in rec.items}
        assert record.prompts and record.prompts[0].sha256


def test_justifications_made_of_card_facts_pass_the_audit(recommender, served):
    since, recs = served
    report = audit_workspace(recommender.workspace, since=since, config=NO_JUDGE, recommender=recommender)
    assert report.records == 2 and report.overall.justifications == 4
    failures = [(v.justification, [(c.text, c.label) for c in v.claims if c.label != "supported"])
                for v in report.explanations if v.flags.hallucination]
    assert failures == []
    assert report.overall.grounded_claim_rate == 1.0
    assert [g.group for g in report.groups] == [recs[0].model]


def test_a_justification_citing_history_is_re_ranked_without_that_item(recommender, served):
    _, recs = served
    record = AuditStore(recommender.workspace.root / "audit.sqlite").get(recs[1].request_id)
    assert record.history, "scifi_fan has a history"
    cited = record.history[-1]
    cited_title = recommender.workspace.get_item(cited).title
    item = record.items[0]
    record.items[0] = item.model_copy(update={
        "justification": f"Because you enjoyed {cited_title}, this one fits.",
        "evidence": [f"history:{cited}"]})
    report = audit_records([record], recommender, NO_JUDGE)
    verdict = report.explanations[0]
    assert verdict.cited_history == [cited]
    f = verdict.faithfulness
    assert f is not None and [r.history_id for r in f.removals] == [cited]
    assert f.replayed_rank == f.stored_rank == 1  # the replay reproduces the served ranking exactly
    assert not report.notices
    removal = f.removals[0]
    assert removal.in_prompt and removal.fell == (removal.rank_without > f.replayed_rank)
    assert f.faithful == removal.fell
    # every justification citing history is re-ranked: the edited one, and any served one naming a history item
    assert report.overall.faithfulness_tested == sum(bool(v.cited_history) for v in report.explanations)


def test_the_catalog_is_indexed_once_until_an_item_changes(recommender, served, monkeypatch):
    """A service auditing on every call must not re-read and re-compile the whole catalog each time."""
    from llmrec.audit.checks import ExplanationChecker

    _, recs = served
    builds = []
    build = ExplanationChecker.from_cards
    monkeypatch.setattr(ExplanationChecker, "from_cards",
                        staticmethod(lambda *a, **k: builds.append(1) or build(*a, **k)))
    records = [AuditStore(recommender.workspace.root / "audit.sqlite").get(recs[0].request_id)]
    first = audit_records(records, recommender, NO_JUDGE)
    second = audit_records(records, recommender, NO_JUDGE)
    assert len(builds) <= 1 and first.overall == second.overall
    before = len(builds)
    ws = recommender.workspace
    stored = ws.get_item(recs[0].items[0].item_id)
    content_hash = ws.content_hashes()[stored.id]  # the workspace is shared: write the item back exactly as it was
    time.sleep(0.01)
    ws.put_item(stored.item, content_hash, stored.card, stored.card_hash, stored.media)  # only the version moves
    audit_records(records, recommender, NO_JUDGE)
    assert len(builds) == before + 1
