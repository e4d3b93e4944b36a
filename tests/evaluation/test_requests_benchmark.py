"""The request benchmark's own bookkeeping: which requests a sampled served run asks, and what its report says."""

from llmrec.evaluation.requests import REQUEST_SETS, load_requests, spread_sample
from llmrec.evaluation.requests_report import render_markdown


def test_every_request_set_ships_with_the_package_and_has_unique_ids():
    for name in REQUEST_SETS:
        requests = load_requests(name)
        assert requests, name
        assert len({r.id for r in requests}) == len(requests), name


def test_the_benchmark_holds_at_least_150_requests_over_movielens_and_30_over_the_demo():
    assert len(load_requests("ml-100k")) + len(load_requests("ml-latest-small")) >= 150
    assert len(load_requests("demo")) >= 30


def test_a_served_sample_is_spread_over_the_whole_file_not_its_head():
    requests = load_requests("ml-100k")
    sample = spread_sample(requests, 20)
    assert len(sample) == 20 and len({r.id for r in sample}) == 20
    positions = [requests.index(r) for r in sample]
    assert positions == sorted(positions)
    assert positions[0] == 0 and positions[-1] >= len(requests) - len(requests) // 20 - 1


def test_no_sample_or_a_sample_as_large_as_the_set_asks_every_request():
    requests = load_requests("demo")
    assert spread_sample(requests, None) is requests
    assert spread_sample(requests, len(requests) + 5) is requests


def test_the_report_says_how_many_requests_each_system_answered():
    row = {"requests": 7, "precision@5": 1.0, "precision@10": 0.9, "any_violation@5": 0.0,
           "exclusion_violations@5": 0, "exclusion_requests": 2, "exact_interpretation": 1.0,
           "parse_ms_p50": 0.4, "parse_ms_p95": 0.9, "seconds_p50": 2.0, "seconds_p95": 3.0,
           "llm_conditions": 0, "llm_conditions_expected": 0, "exact_by_type": {}, "exact_by_tag": {}}
    text = render_markdown([{"request_set": "demo", "items": 53, "systems": {"served": row}, "outcomes": {}}], {})
    assert "| served | 7 | 1.000 | 0.900 |" in text
