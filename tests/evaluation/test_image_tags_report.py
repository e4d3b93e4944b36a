"""The image-tags report: which stored classifier outputs count as a tag, and precision from hand judgements."""

from llmrec.evaluation.image_tags import build_report, precision, shown_tags

PROBS = {
    "1": [["comic book", 0.95], ["toy store", 0.02]],                 # a medium label only: no tag
    "2": [["abaya", 0.32], ["trench coat", 0.13]],                    # one tag at 0.3
    "3": [["cuirass", 0.18], ["breastplate", 0.14]],                  # below 0.3
    "4": [["comic book", 0.5], ["sports car", 0.4], ["racer", 0.35]],  # medium label skipped, two tags
}


def test_medium_labels_never_count_and_the_threshold_is_inclusive():
    assert shown_tags(PROBS["1"], 0.3) == []
    assert [label for label, _ in shown_tags(PROBS["2"], 0.32)] == ["abaya"]
    assert [label for label, _ in shown_tags(PROBS["4"], 0.3)] == ["sports car", "racer"]


def test_share_with_a_tag_per_threshold():
    report = build_report(PROBS, 0.3, sample_n=2, seed=0, names={}, judgements={}, calibration={})
    assert "check_precision_by_threshold" not in report
    assert report["share_with_a_tag"]["0.3"] == 0.5 and report["share_with_a_tag"]["0.1"] == 0.75
    assert report["share_at_threshold"] == 0.5
    assert len(report["samples"]["check"]) == 2 and len(report["samples"]["calibration"]) == 2


def test_precision_counts_only_judged_tags_that_were_shown():
    sample = [{"movieId": "2", "tags": [("abaya", 0.32)]},
              {"movieId": "4", "tags": [("sports car", 0.4), ("racer", 0.35)]}]
    judged = {"2": {"abaya": False}, "4": {"sports car": True, "racer": True, "comic book": True}}
    p = precision(sample, judged)
    assert (p["tags_judged"], p["tags_right"], p["precision"]) == (3, 2, 0.667)
    assert p["posters_tagged"] == 2


def test_precision_at_another_threshold_reads_the_stored_top_labels():
    sample = [{"movieId": "4", "tags": [], "top": PROBS["4"]}]
    judged = {"4": {"sports car": True, "racer": False}}
    assert precision(sample, judged, 0.38)["tags_judged"] == 1 and precision(sample, judged, 0.3)["tags_right"] == 1
    assert precision(sample, judged, 0.3)["precision"] == 0.5
