"""The justification benchmark measures each mode on a real workspace and writes its report; here on the test
text catalog and a tiny MovieLens-shaped folder, template mode in retrieval order (no LLM: quick)."""

from __future__ import annotations

from llmrec.config import LLMRecConfig
from llmrec.evaluation.justifications import Case, movielens_cases, prepare_movielens, run, write_report
from llmrec.testing.catalogs import write_tiny_movielens
from llmrec.workspace import Workspace


def test_the_benchmark_measures_known_users_and_requests_and_writes_its_report(text_workspace, tmp_path):
    config = LLMRecConfig()
    config.collaborative.fit_on_ingest = False  # co-occurrence reasons are tested with the reasons
    ml = prepare_movielens(write_tiny_movielens(tmp_path / "ml"), tmp_path / "cache", lambda s: None, config)
    cases = [Case(source="text", query="a quiet science fiction film"), Case(source="text", user_id="listener")]
    users = movielens_cases(Workspace(ml), 2)
    assert len(users) == 2 and all(c.user_id and not c.query for c in users)
    report = run([(text_workspace, cases), (ml, users)], k=3, modes=("template",), rank=False, log=lambda s: None)
    overall = report["overall"]["template"]
    assert overall["justifications"] == 12 and overall["requests"] == 4
    assert overall["field_dump_rate"] == 0.0 and overall["grounded_claim_rate"] >= 0.98
    assert overall["personal_eligible"] == 12 and overall["justify_p50_s"] is not None
    assert set(report["sources"]) == {"text", "ml-latest-small-users"}
    assert report["targets"]["template"]["field_dump_rate"] is True
    json_path, md_path = write_report(report, tmp_path / "out")
    text = md_path.read_text()
    assert "| template |" in text and "## Examples" in text and json_path.is_file()


def test_a_given_config_is_the_one_every_workspace_is_measured_with(text_workspace):
    config = LLMRecConfig()
    config.ranker.model = "qwen2.5-coder-0.5b"  # template mode in retrieval order never loads it
    report = run([(text_workspace, [Case(source="text", query="jazz")])], k=2, modes=("template",), rank=False,
                 log=lambda s: None, config=config)
    assert report["model"] == "qwen2.5-coder-0.5b" and report["overall"]["template"]["justifications"] == 2
