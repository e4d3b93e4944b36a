"""Proof that the audit works: its hallucination flag on hand-labelled explanations over the demo catalog.

The figures are printed (run with -s to see them) and written to the test's tmp folder; the committed
eval/results/audit-labelled*.{json,md} come from ``python eval/audit_labelled.py [--no-judge]``.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from llmrec.config import AuditConfig
from llmrec.audit.labelled_set import evaluate, load_examples, to_markdown, write_results


def written_report_matches(result, folder, name) -> bool:
    """The report ``write_results`` wrote holds this result, with a manifest saying what produced it."""
    json_path, md_path = write_results(result, folder, name)
    written = json.loads(json_path.read_text(encoding="utf-8"))
    manifest = written.pop("manifest")
    return (written == result.model_dump(mode="json") and manifest["produced_by"] == "llmrec.audit.labelled_set"
            and md_path.read_text(encoding="utf-8") == to_markdown(result))


def test_the_labelled_set_is_about_half_true_with_every_planted_error_kind():
    examples = load_examples()
    assert len(examples) >= 100
    labels = Counter(e.label for e in examples)
    assert 0.4 <= labels["false"] / len(examples) <= 0.6
    kinds = {e.error for e in examples if e.label == "false"}
    assert {"wrong_person", "wrong_year", "wrong_genre", "invented_award", "not_in_list",
            "unseen_history"} <= kinds
    assert all(e.error is None for e in examples if e.label == "true")
    assert len({e.id for e in examples}) == len(examples)


def test_hallucination_flags_reach_the_target_with_rules_alone(tmp_path):
    result, _ = evaluate(None, AuditConfig(judge=False))
    assert written_report_matches(result, tmp_path, "audit-labelled-no-judge")
    print("\n" + to_markdown(result))
    assert result.precision >= 0.9 and result.recall >= 0.8


@pytest.mark.slow
def test_hallucination_flags_reach_the_target_with_the_default_judge(llm_backend, tmp_path):
    from llmrec.audit.judge import ClaimJudge

    config = AuditConfig()  # the defaults `llmrec audit` runs with: judge on
    judge = ClaimJudge(llm_backend, threshold=config.judge_threshold)
    result, verdicts = evaluate(judge, config)
    assert written_report_matches(result, tmp_path, "audit-labelled")
    print("\n" + to_markdown(result))
    assert result.precision >= 0.9 and result.recall >= 0.8
    assert all(c.judge_p_supported is not None for v in verdicts for c in v.claims
               if any(f.check == "judge" for f in c.findings))


def test_the_eval_driver_writes_the_reports_eval_results_keeps(tmp_path):
    """``python eval/audit_labelled.py --no-judge --out DIR`` is what makes eval/results/audit-labelled-no-judge.*."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}  # this checkout's llmrec, not whichever one is installed
    done = subprocess.run([sys.executable, str(repo / "eval" / "audit_labelled.py"), "--no-judge", "--out",
                           str(tmp_path)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "audit-labelled-no-judge.json").read_text(encoding="utf-8"))
    assert written["judge"] == "disabled" and written["examples"] == len(load_examples())
    assert written["manifest"]["produced_by"] == "llmrec.audit.labelled_set"
    assert (tmp_path / "audit-labelled-no-judge.md").read_text(encoding="utf-8").startswith("# Explanation audit")
