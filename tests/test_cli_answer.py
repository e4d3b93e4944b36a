"""``llmrec ask`` prints the ranked table as soon as the items are ranked and fills the justifications in as they are
written: below the table, one line per item, where the output is not a terminal; in the table, in place, where it
is. ``--json`` still prints the one ``Recommendation`` document."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from llmrec.answer import RankedAnswer
from llmrec.api import AskRequest, ItemJustification, RankedItem, RankedList, Recommendation

PLACEHOLDER = "writing the justification…"


def _answer() -> RankedAnswer:
    ranked = RankedList(request_id="r1", query="space films", model="m", backend="b",
                        items=[RankedItem(item_id="m1", title="Starlight Drift", rank=1, score=-0.5),
                               RankedItem(item_id="m4", title="The Long Orbit", rank=2, score=-1.5)])
    return RankedAnswer(request=AskRequest(query="space films"), ranked=ranked, top=[], candidates=[], history=[],
                        history_ids=[], result=None, retrieved=[], started=time.perf_counter())


def _written(answer: RankedAnswer, seen: list[str], capsys):
    """Yields the two justifications as a stream does, noting what had been printed before each was written."""
    for it, text in zip(answer.ranked.items, ("A quiet voyage through deep space.", "Space battles [and] aliens.")):
        seen.append(capsys.readouterr().out)
        j = ItemJustification(item_id=it.item_id, rank=it.rank, justification=text, evidence=["card:description"])
        answer.justifications.append(j)
        yield j
    answer.recommendation = answer.complete()


def test_off_a_terminal_the_table_comes_first_then_each_justification_as_soon_as_it_is_written(capsys, monkeypatch):
    from llmrec.cli import _print_streamed

    monkeypatch.setenv("COLUMNS", "200")
    answer, seen = _answer(), []
    _print_streamed(answer, _written(answer, seen, capsys))
    rest = capsys.readouterr().out
    # before the first justification was written: the whole table, each item waiting for its justification
    assert "Starlight Drift" in seen[0] and "The Long Orbit" in seen[0] and seen[0].count(PLACEHOLDER) == 2
    # before the second was written, the first was already out
    assert "1. Starlight Drift: A quiet voyage through deep space. (evidence: card:description)" in seen[1]
    assert "Space battles" not in seen[1]
    assert "2. The Long Orbit: Space battles [and] aliens." in rest  # markup-like text printed literally
    assert "request r1" in rest


def test_on_a_terminal_the_table_is_filled_in_place(capsys, monkeypatch):
    from llmrec.cli import _print_streamed

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich treats the captured output as a terminal
    answer, seen = _answer(), []
    _print_streamed(answer, _written(answer, seen, capsys))
    out = "".join(seen) + capsys.readouterr().out
    assert PLACEHOLDER in seen[0]
    last_frame = out[out.rindex("Starlight Drift") - 400:]
    assert "A quiet voyage" in last_frame and "Space battles [and] aliens." in last_frame
    assert "1. Starlight Drift:" not in out  # no lines below the table: the table itself was filled


@pytest.fixture(scope="module")
def cli_ask(text_workspace):
    from llmrec.cli import app

    def ask(*args: str):
        result = CliRunner().invoke(app, ["ask", *args, "--workspace", str(text_workspace), "--no-justify"])
        assert result.exit_code == 0, result.output
        return result.stdout

    return ask


def test_ask_prints_the_ranked_table_then_the_justifications(cli_ask, recommender):
    before = recommender.audit_store.count()
    out = cli_ask("a gentle science fiction film about space", "-k", "2")
    table, _, lines = out.partition(PLACEHOLDER)
    assert "Starlight Drift" in table and out.count(PLACEHOLDER) == 2
    justified = [line for line in out.splitlines() if line[:3] in ("1. ", "2. ")]
    assert len(justified) == 2 and out.index(justified[0]) > out.rindex(PLACEHOLDER)
    assert recommender.audit_store.count() == before + 1  # one answer, one record


def test_ask_json_is_still_the_whole_recommendation(cli_ask):
    rec = Recommendation.model_validate(json.loads(cli_ask("a podcast about money", "-k", "2", "--json")))
    assert len(rec.items) == 2 and all(it.justification for it in rec.items)
