"""Catalog facts beyond EASE's order (``llmrec.evaluation.content_signal``): what a ranker reading the history's
genres and years could add to the collaborative evidence, measured without an LLM."""

import json

import numpy as np

from llmrec.evaluation import content_signal
from llmrec.testing.catalogs import write_tiny_movielens


def test_features_compare_each_option_with_the_recent_history():
    genres = [frozenset({"Drama"}), frozenset({"Drama", "War"}), frozenset({"Drama"}), frozenset({"Western"})]
    years = np.array([2000.0, 2002.0, 2001.0, 1950.0])
    f = content_signal.fact_features([[0, 1]], np.array([[2, 3]]), years, genres)
    assert f["genres@5"].tolist() == [[2.0, 0.0]]     # both history items are dramas; neither is a western
    assert f["year@5"].tolist() == [[-0.0, -51.0]]   # the median history year is 2001


def test_missing_years_weigh_nothing_after_standardising():
    z = content_signal.standardised(np.array([[1.0, np.nan, 3.0], [5.0, 5.0, 5.0]]))
    assert z[0].tolist() == [-1.0, 0.0, 1.0] and z[1].tolist() == [0.0, 0.0, 0.0]


def test_report_lists_every_feature_against_eases_order(tmp_path):
    data = write_tiny_movielens(tmp_path / "ml")
    assert content_signal.main(["--data", str(data), "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "ml-latest-small-content-signal.json").read_text())
    assert len(report["rows"]) == 6 + 9  # each feature alone, each genres × year pair
    for row in report["rows"]:
        assert set(row["weights"]) == set(row["features"]) and "z" in row["vs_EASE"]
    md = (tmp_path / "out" / "ml-latest-small-content-signal.md").read_text()
    assert "Chosen on validation" in md and "genres@20 + year@5" in md
