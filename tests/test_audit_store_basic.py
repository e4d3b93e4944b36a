"""Every served recommendation leaves exactly one readable audit record."""

from llmrec.audit.store import AuditStore


def test_each_ask_appends_one_record_with_candidates_scores_and_prompt(recommender):
    store = AuditStore(recommender.workspace.root / "audit.sqlite")
    before = store.count()
    rec = recommender.ask("a documentary about the sea", k=2)
    assert store.count() == before + 1
    record = store.get(rec.request_id)
    assert record.request.query == "a documentary about the sea"
    assert [c.item_id for c in record.candidates] == rec.candidates
    assert {i.item_id for i in record.items} == {i.item_id for i in rec.items}
    assert record.ranking_prompt.rstrip().endswith("Answer:") and record.prompts[0].template == "ranking.j2"
    assert record.config_hash == recommender.config.fingerprint()
