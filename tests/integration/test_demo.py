"""The README's first command end to end: demo catalog with drawn images and spoken audio → ingest → three answers.

One real run of every stage (OCR, Whisper, embeddings, Chroma, LLM ranking and generated justifications).
"""

import json
import shutil
import subprocess
import sys

import pytest

from llmrec.recommender import Recommender

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is needed (make system-deps)")]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    ws = tmp_path_factory.mktemp("demo") / "ws"
    out = subprocess.run([sys.executable, "-m", "llmrec.cli", "demo", "--workspace", str(ws), "--json"],
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    return ws, json.loads(out.stdout)


def test_demo_answers_three_requests_with_catalog_items_and_justifications(demo_run):
    ws, answers = demo_run
    assert len(answers) == 4  # three requests, then the known user again with the adapter the demo trained
    for answer in answers:
        assert answer["why"] and len(answer["items"]) == 3
        for item in answer["items"]:
            assert item["justification"] and item["evidence"]
    assert answers[1]["user_id"] == "ivan"


def test_the_answer_that_only_audio_can_give_is_found(demo_run):
    _, answers = demo_run
    volcano = answers[2]
    assert "volcano" in volcano["query"]
    assert "pod-field-notes-12" in [it["item_id"] for it in volcano["items"]]


def test_the_volcano_episode_is_justified_by_what_its_audio_says(demo_run):
    _, answers = demo_run
    [episode] = [it for it in answers[2]["items"] if it["item_id"] == "pod-field-notes-12"]
    assert "volcano" in episode["justification"].lower()
    assert "card:audio 1" in episode["evidence"]
    for answer in answers:
        for item in answer["items"]:  # sentences, never card fields pasted together
            assert "[card facts]" not in item["justification"] and "Genres:" not in item["justification"]


def test_the_demo_trains_an_adapter_and_ranks_the_known_user_with_it(demo_run):
    ws, answers = demo_run
    adapter = ws / "adapters" / "demo"
    manifest = json.loads((adapter / "manifest.json").read_text())
    assert manifest["metrics"]["finished"] and manifest["config"]["train"]["lora_layers"] == 2
    assert not (adapter / "checkpoint").exists()
    again = answers[3]
    assert again["user_id"] == "ivan" and again["query"] == answers[1]["query"]
    assert again["adapter"] == "demo" and answers[1]["adapter"] is None


def test_the_known_user_is_not_offered_what_they_already_rated(demo_run):
    ws, answers = demo_run
    rec = Recommender(ws)
    seen = {i.item_id for i in rec.workspace.history("ivan")}
    assert not seen & {it["item_id"] for it in answers[1]["items"]}


def test_poster_text_read_by_ocr_makes_an_item_findable(demo_run):
    ws, _ = demo_run
    rec = Recommender(ws)
    card = rec.workspace.get_item("film-shepherd-of-harrow-fell").card
    assert "DRAGONS" in card.upper()
    found = rec.retriever.retrieve("dragons in the snow", [], set(), 5)
    assert "film-shepherd-of-harrow-fell" in [c.id for c in found[:3]]


def test_rerunning_the_demo_reuses_everything_it_ingested(demo_run):
    ws, _ = demo_run
    from llmrec.demo import write_demo_catalog
    from llmrec.ingest import ingest

    demo = write_demo_catalog(ws / "catalog")
    report = ingest(demo.catalog, ws, interactions=demo.interactions)
    assert report.items_new == 0 and report.items_updated == 0 and report.media_described == 0


def test_the_demo_request_set_is_answered_within_its_stated_conditions(demo_run):
    """The request benchmark's demo set (32 requests: kinds, genres, people, years, lengths, negations, anchors) on
    the demo workspace: the served pipeline honours what each request states."""
    from llmrec.evaluation.requests import benchmark_workspace

    ws, _ = demo_run
    result = benchmark_workspace(Recommender(ws), "demo", only=["rules", "served"])
    for name in ("rules", "served"):
        row = result["systems"][name]
        assert row["precision@5"] >= 0.95, (name, row)
        assert row["exclusion_violations@5"] == 0, (name, row)
        assert row["exact_interpretation"] >= 0.95, (name, row)
