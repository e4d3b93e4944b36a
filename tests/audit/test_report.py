"""Metrics count what the checks found; the HTML report is self-contained and escapes every catalog text."""

from __future__ import annotations

import re

import pytest

from llmrec.audit.checks import ExplanationChecker
from llmrec.audit.report import (AuditReport, parse_since, render_html, report_of, summarise, to_json,
                                 write_report)
from llmrec.claims import Grounds
from llmrec.config import AuditConfig

EVIL_TITLE = '<script>alert("x")</script> & Co'
CARDS = {
    "a": ("The Quiet Orbit", "Title: The Quiet Orbit\nYear: 2019\nDirector: Lena Marsh\nGenres: Drama\n"
                             "Description: An engineer on a relay station receives letters."),
    "b": (EVIL_TITLE, f"Title: {EVIL_TITLE}\nYear: 2020\nGenres: Comedy\nDescription: A <b>bold</b> caper."),
}


def subject(item, candidates=("a", "b")):
    return Grounds(item_id=item, title=CARDS[item][0], card=CARDS[item][1], candidates=set(candidates))


@pytest.fixture(scope="module")
def verdicts():
    checker = ExplanationChecker.from_cards(CARDS, config=AuditConfig(judge=False))
    return checker.check_many([
        (subject("a"), "A 2019 drama by Lena Marsh about an engineer on a relay station.", {"group": "m1"}),
        (subject("a"), "A 2005 drama about an engineer.", {"group": "m1"}),
        (subject("b"), f"{EVIL_TITLE} is a 2020 comedy <img src=x onerror=alert(1)> caper.", {"group": "m2"}),
        (subject("b", candidates=("b",)), "A 2020 comedy caper, unlike The Quiet Orbit.", {"group": "m2"}),
    ])


def test_metrics_are_rates_with_their_counts(verdicts):
    m = summarise(verdicts, "overall")
    assert m.justifications == 4
    assert m.claims == m.supported + m.unsupported + m.contradicted
    assert m.grounded_claim_rate == round(m.supported / m.claims, 4)
    assert m.hallucinations == sum(v.flags.hallucination for v in verdicts) == 3
    assert m.hallucination_rate == 0.75
    assert m.non_candidate_mentions == 1 and m.non_candidate_mention_rate == 0.25
    assert m.wrong_year_or_number == 2  # 2005 for 2019, and the "1" inside the injected tag
    assert m.faithfulness_tested == 0 and m.faithfulness_rate is None


def test_the_report_has_one_group_per_model_and_an_overall(verdicts):
    report = report_of(verdicts, source="test", config=AuditConfig(judge=False))
    assert [g.group for g in report.groups] == ["m1", "m2"]
    assert report.overall.justifications == sum(g.justifications for g in report.groups)


def test_the_json_report_reads_back_identical(verdicts, tmp_path):
    report = report_of(verdicts, source="test", config=AuditConfig(judge=False))
    assert AuditReport.model_validate_json(to_json(report)) == report
    path = write_report(report, tmp_path / "audit.json")
    assert AuditReport.model_validate_json(path.read_text()) == report


def test_the_html_report_escapes_catalog_text_and_needs_nothing_external(verdicts, tmp_path):
    report = report_of(verdicts, source="test", config=AuditConfig(judge=False))
    page = write_report(report, tmp_path / "audit.html").read_text()
    assert "<script" not in page and "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page
    assert page.count("<svg") == 2  # the rates and the claim labels, inline


def test_each_failure_is_shown_next_to_its_evidence(verdicts):
    page = render_html(report_of(verdicts, source="test", config=AuditConfig(judge=False)))
    failure = page[page.index("A 2005 drama"):]
    failure = failure[:failure.index("</section>")]
    assert "contradicted" in failure and "card:year = 2019" in failure


def test_an_empty_audit_still_renders():
    report = report_of([], source="empty", config=AuditConfig())
    assert report.overall.hallucination_rate is None
    assert "No justification has an unsupported" in render_html(report)


def test_since_accepts_unix_seconds_and_iso_times():
    assert parse_since("1700000000") == 1_700_000_000.0
    assert parse_since("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert parse_since("2023-11-14T22:13:20") == 1_700_000_000.0  # UTC unless it says otherwise
    assert parse_since(None) is None
    with pytest.raises(ValueError, match="neither unix seconds nor an ISO"):
        parse_since("last tuesday")
