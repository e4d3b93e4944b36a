"""eval/ranker_pilot.py: a 30-minute check of whether a ranker-training variant learns at all."""

import json
import math

import pytest

from llmrec.evaluation.commands import load_script
from llmrec.testing.catalogs import write_tiny_movielens


@pytest.fixture(scope="module")
def script():
    return load_script("ranker_pilot")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from llmrec.catalog.movielens import read_movielens
    from llmrec.evaluation.protocols import build_dataset

    folder = write_tiny_movielens(tmp_path_factory.mktemp("ml") / "ml")
    catalog, interactions = read_movielens(folder)
    return folder, catalog, build_dataset(interactions, tie_break="item")


def test_fit_facts_count_genre_matches_year_distance_and_popularity(script, tiny):
    _, catalog, data = tiny
    items = script.Items(catalog, data)
    facts = script.Facts(items, data)
    code = {items(c).title: c for c in range(data.n_items)}
    # Films m have genre m % 5 and year 1980 + m: films 2, 7 and 12 are Sci-Fi from 1982, 1987 and 1992.
    history = [code["Film 2"], code["Film 7"], code["Film 3"]]
    line = facts(code["Film 12"], history)
    assert line.startswith("Fit: 2/3 genre match, 8 years off, ")  # mean year of the history is 1984
    assert line.rsplit(", ", 1)[1] in {"rare", "known", "popular", "very popular"}


def test_suffix_letters_put_each_letter_after_its_option(script):
    prompt = "Options:\nA. <<<Alien: Horror>>>\nB. <<<Up: Animation>>>\nWhich option fits best?"
    assert script.suffix_letters(prompt) == ("Options:\n- <<<Alien: Horror>>> = option A\n"
                                             "- <<<Up: Animation>>> = option B\nWhich option fits best?")


@pytest.mark.slow
def test_pilot_trains_and_reports_a_loss_curve_and_evaluations(script, tiny, tmp_path):
    folder, _, _ = tiny
    out = tmp_path / "pilot.json"
    argv = ["--data", str(folder), "--scoring", "readout", "--facts", "--teacher", "0.5", "--examples", "4",
            "--natural", "--card-chars", "40",
            "--accum", "2", "--eval-every", "2", "--valid-users", "2", "--sampled-users", "2",
            "--cache", str(tmp_path / "cache"), "--out", str(out)]
    assert script.main(argv) == 0
    report = json.loads(out.read_text())
    assert [e["examples"] for e in report["evals"]] == [2, 4]
    assert report["curve"][-1]["examples"] == 4 and math.isfinite(report["curve"][-1]["loss"])
    assert 0 <= report["evals"][-1]["sampled20_ndcg@10"] <= 1
    assert "Fit: " in report["example_prompt"]


def test_bad_arguments_and_missing_data_fail_clearly(script, tmp_path):
    with pytest.raises(SystemExit):
        script.main(["--teacher", "2"])
    with pytest.raises(SystemExit):
        script.main(["--card-chars", "5"])
    with pytest.raises(SystemExit, match="data not found"):
        script.main(["--data", str(tmp_path / "nowhere")])
