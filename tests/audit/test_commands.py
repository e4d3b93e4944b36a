"""`llmrec audit` on external explanations and on a workspace, as a user runs it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llmrec.errors import ConfigError


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from llmrec.demo import write_demo_catalog

    return write_demo_catalog(tmp_path_factory.mktemp("demo"), with_speech=False)


@pytest.fixture(scope="module")
def explanations(demo, tmp_path_factory):
    path = tmp_path_factory.mktemp("ex") / "explanations.jsonl"
    rows = [
        {"item_id": "film-quiet-orbit", "explanation": "A patient 2019 science-fiction drama by Lena Marsh."},
        {"item_id": "film-quiet-orbit", "explanation": "An Oscar-winning horror film from 2009.", "user_id": "ada"},
        {"item_id": "film-whisper-lake", "user_id": "ivan",
         "explanation": "Because you loved The Hollow Choir, a horror mystery by Hana Kim."},
        {"item_id": "film-whisper-lake", "history": ["film-ninth-floor"],
         "explanation": "Because you loved Saltmarsh, a horror mystery by Hana Kim."},
        {"item_id": "no-such-item", "explanation": "Anything."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    return path


def test_auditing_an_explanations_file_prints_rates_and_failures(app, demo, explanations):
    result = CliRunner().invoke(app, ["audit", "--explanations", str(explanations), "--catalog", str(demo.catalog),
                                      "--interactions", str(demo.interactions), "--no-judge"])
    assert result.exit_code == 0, result.output
    assert "hallucination 50.0% (2/4)" in result.output
    assert "Oscar" in result.output and "Saltmarsh" in result.output
    assert "no-such-item" in result.output  # reported as not audited, not silently dropped


def test_json_output_is_the_full_audit(app, demo, explanations):
    result = CliRunner().invoke(app, ["audit", "--explanations", str(explanations), "--catalog", str(demo.catalog),
                                      "--interactions", str(demo.interactions), "--no-judge", "--json"])
    assert result.exit_code == 0, result.output
    audit = json.loads(result.stdout[result.stdout.index("{"):])
    assert audit["overall"]["justifications"] == 4
    flags = [e["flags"] for e in audit["explanations"]]
    assert [f["hallucination"] for f in flags] == [False, True, False, True]
    assert flags[3]["unseen_history"] and flags[1]["wrong_year_or_number"]
    assert any("no-such-item" in p for p in audit["problems"]) and any(":6:" in p for p in audit["problems"])


def test_the_html_report_is_written_where_asked(app, demo, explanations, tmp_path):
    out = tmp_path / "reports" / "audit.html"
    result = CliRunner().invoke(app, ["audit", "--explanations", str(explanations), "--catalog", str(demo.catalog),
                                      "--no-judge", "--report", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "Oscar" in page


def test_explanations_without_a_catalog_is_a_clear_error(app, explanations):
    result = CliRunner().invoke(app, ["audit", "--explanations", str(explanations), "--no-judge"])
    assert isinstance(result.exception, ConfigError) and "--catalog" in str(result.exception)


def test_a_workspace_with_no_recorded_recommendations_says_so(app, tmp_path):
    from llmrec.workspace import Workspace

    Workspace(tmp_path / "ws", create=True)
    result = CliRunner().invoke(app, ["audit", "--workspace", str(tmp_path / "ws"), "--no-judge"])
    assert result.exit_code == 0, result.output
    assert "no recommendations recorded" in result.output
    assert "0 justifications" in result.output
