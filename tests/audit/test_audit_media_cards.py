"""`llmrec audit --explanations` checks claims against the cards serving uses: an episode's audio is transcribed
(through the same media cache as ingest) or its card is taken from the workspace, so a true claim about what the
episode says is not flagged, and a false one still is."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner


TRUE_CLAIM = "This episode is about sourdough bread baking."
FALSE_CLAIM = "This episode is about volcanoes in Iceland."
SPOKEN = ("Welcome to Kitchen Hour. This episode is about sourdough bread baking: we feed the starter, fold the dough "
          "and bake a crusty loaf.")


@pytest.fixture(scope="module")
def episode_catalog(tmp_path_factory):
    """Two items; the episode's row says nothing of bread: only its audio does."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from llmrec.demo.speech import speak

    folder = tmp_path_factory.mktemp("episodes")
    (folder / "kitchen-hour-7.wav").write_bytes(speak(SPOKEN))
    rows = [{"id": "ep7", "title": "Kitchen Hour 7", "kind": "podcast episode",
             "description": "Episode 7 of Kitchen Hour.", "audio": "kitchen-hour-7.wav"},
            {"id": "film1", "title": "Starlight Drift", "kind": "film", "genres": "science fiction",
             "description": "A lone astronaut drifts through deep space."}]
    catalog = folder / "catalog.jsonl"
    catalog.write_text("".join(json.dumps(r) + "\n" for r in rows))
    explanations = folder / "explanations.jsonl"
    explanations.write_text("".join(json.dumps({"item_id": "ep7", "explanation": text, "id": name}) + "\n"
                                    for name, text in (("true", TRUE_CLAIM), ("false", FALSE_CLAIM))))
    return folder


def _audit(app, *args: str) -> dict[str, dict]:
    result = CliRunner().invoke(app, ["audit", "--explanations", *args, "--no-judge", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    return {v["request_id"]: v for v in report["explanations"]} | {"": report}


def test_a_true_claim_about_what_the_audio_says_is_not_flagged(app, episode_catalog):
    found = _audit(app, str(episode_catalog / "explanations.jsonl"), "--catalog",
                   str(episode_catalog / "catalog.jsonl"))
    assert "sourdough" in found["true"]["card"].lower()  # the card has the transcript, as ingest's would
    assert not found["true"]["flags"]["hallucination"], found["true"]["claims"]
    assert found["false"]["flags"]["hallucination"]  # the check still bites


@pytest.fixture(scope="module")
def ingested(episode_catalog, tmp_path_factory):
    from llmrec.config import LLMRecConfig
    from llmrec.ingest import ingest

    workspace = tmp_path_factory.mktemp("ws") / "workspace"
    ingest(episode_catalog / "catalog.jsonl", workspace, config=LLMRecConfig.from_mapping({"collaborative": {
        "fit_on_ingest": False}}))
    return workspace


def test_with_a_workspace_the_audit_reads_its_stored_cards(app, episode_catalog, ingested, monkeypatch):
    from llmrec.media import MediaDescriber

    def never(*args, **kwargs):
        raise AssertionError("the stored card should have been used, not the audio described again")

    monkeypatch.setattr(MediaDescriber, "describe_audio", never)
    found = _audit(app, str(episode_catalog / "explanations.jsonl"), "--workspace", str(ingested))
    assert not found["true"]["flags"]["hallucination"] and found["false"]["flags"]["hallucination"]
    assert any("stored in workspace" in n for n in found[""]["notices"])


def test_catalog_items_the_workspace_lacks_are_described_through_its_media_cache(app, episode_catalog, ingested,
                                                                                monkeypatch, tmp_path):
    from llmrec.media import MediaDescriber

    def never(*args, **kwargs):
        raise AssertionError("ingest already described these bytes: the cache must answer")

    # A rerun of the episode, not ingested: same audio bytes, another id.
    shutil.copy(episode_catalog / "kitchen-hour-7.wav", tmp_path / "rerun.wav")
    (tmp_path / "catalog.jsonl").write_text(json.dumps({
        "id": "ep7-rerun", "title": "Kitchen Hour 7 (rerun)", "kind": "podcast episode",
        "description": "A rerun.", "audio": "rerun.wav"}) + "\n")
    (tmp_path / "explanations.jsonl").write_text(json.dumps({"item_id": "ep7-rerun", "explanation": TRUE_CLAIM,
                                                             "id": "rerun"}) + "\n")
    monkeypatch.setattr(MediaDescriber, "describe_audio", never)
    found = _audit(app, str(tmp_path / "explanations.jsonl"), "--catalog", str(tmp_path / "catalog.jsonl"),
                   "--workspace", str(ingested))
    assert "sourdough" in found["rerun"]["card"].lower()
    assert not found["rerun"]["flags"]["hallucination"]
