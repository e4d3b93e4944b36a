"""The command line: teaches with --help, fails with one readable line and a meaningful exit code."""

import subprocess
import sys
import time


def run(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "llmrec.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_help_lists_every_user_job_and_is_fast():
    t0 = time.perf_counter()
    out = run("--help")
    assert out.returncode == 0
    for verb in ("ingest", "ask", "demo", "train", "audit", "serve"):
        assert verb in out.stdout
    assert time.perf_counter() - t0 < 20  # heavy libraries are not imported for --help


def test_import_llmrec_does_not_import_torch():
    code = ("import sys, llmrec, llmrec.cli; "
            "print('torch' in sys.modules, 'chromadb' in sys.modules, 'fastapi' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False", "False"]  # fastapi: the `serve` extra may be absent


def _commands(group, path=()):
    """Every leaf command of a click group, with its path (("llm", "serve"), ...)."""
    import click

    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_command_declares_shared_options_the_same_way():
    import typer

    from llmrec.cli import app

    seen: dict[str, dict] = {}
    for path, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            if param.name not in ("workspace", "config", "as_json"):
                continue
            shape = {"opts": sorted(param.opts), "envvar": param.envvar, "help": param.help}
            seen.setdefault(param.name, shape)
            assert shape == seen[param.name], f"llmrec {' '.join(path)}: {'/'.join(param.opts)} declared differently"
    assert seen["workspace"]["opts"] == ["--workspace", "-w"] and seen["workspace"]["envvar"] == "LLMREC_WORKSPACE"
    assert {"workspace", "config", "as_json"} <= set(seen)


def test_missing_workspace_is_one_line_with_what_to_do(tmp_path):
    out = run("ask", "films", "--workspace", str(tmp_path / "nope"))
    assert out.returncode == 5
    assert out.stderr.startswith("error: workspace") and "llmrec ingest" in out.stderr
    assert "Traceback" not in out.stderr


def test_invalid_catalog_rows_are_listed_by_file_and_line(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"id": "a"}\n{"id": "b", "title": "B"}\n')
    out = run("ingest", str(tmp_path / "c.jsonl"), "--workspace", str(tmp_path / "ws"), "--strict")
    assert out.returncode == 3
    assert "c.jsonl:1: title: missing" in out.stderr


def test_ask_refuses_k_above_what_the_ranker_can_return_and_names_the_limit(tmp_path):
    from llmrec.workspace import Workspace

    Workspace(tmp_path / "ws", create=True)
    out = run("ask", "films", "--workspace", str(tmp_path / "ws"), "--k", "100")
    assert out.returncode == 6
    assert "k must be at most 52" in out.stderr and "Traceback" not in out.stderr


def test_the_ingest_summary_counts_interactions_naming_items_not_in_the_catalog(capsys):
    from llmrec.cli import _print_ingest_report
    from llmrec.ingest import IngestReport

    _print_ingest_report(IngestReport(workspace="ws", items_read=2, interactions_added=5,
                                      interactions_unknown_items=3))
    assert "3 interaction(s) name items not in the catalog" in capsys.readouterr().out


def test_catalog_model_and_user_text_with_brackets_is_printed_literally_not_as_markup(capsys, monkeypatch):
    from llmrec.cli import _print_recommendation
    from llmrec.api import Recommendation, RecommendedItem

    monkeypatch.setenv("COLUMNS", "200")  # one table row per line, so the texts are not wrapped
    items = [RecommendedItem(item_id="acdc[1]", title="AC/DC [/live]", rank=1, score=-0.5,
                             justification="Loud [bold]guitars[/bold].", evidence=["card:title"]),
             RecommendedItem(item_id="p2", title="Pokémon [remastered]", rank=2, score=-1.0,
                             justification="A remaster.", generated=False)]
    rec = Recommendation(request_id="r1", query="music [/b] please", items=items, model="m[x]", backend="b",
                         notices=["k=[5] is odd"])
    _print_recommendation(rec)
    out = capsys.readouterr().out
    for text in ("AC/DC [/live]", "acdc[1]", "Pokémon [remastered]", "Loud [bold]guitars[/bold].",
                 "A remaster. [card facts]", "music [/b] please", "note: k=[5] is odd", "m[x] via b"):
        assert text in out


def test_ingest_config_that_is_a_folder_is_a_config_error(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"id": "a", "title": "A"}\n')
    out = run("ingest", str(tmp_path / "c.jsonl"), "--workspace", str(tmp_path / "ws"), "--config", str(tmp_path))
    assert out.returncode == 2
    assert "is a folder" in out.stderr and "unexpected error" not in out.stderr


def test_ingest_config_naming_the_workspaces_own_file_is_used_as_it_is(tmp_path):
    (tmp_path / "ws").mkdir()
    own = tmp_path / "ws" / "llmrec.toml"
    own.write_text("[retrieval]\nn_candidates = 30\n")
    (tmp_path / "c.jsonl").write_text('{"id": "a"}\n')  # every row invalid: stops before any model loads
    out = run("ingest", str(tmp_path / "c.jsonl"), "--workspace", str(tmp_path / "ws"), "--config", str(own))
    assert out.returncode == 3 and "every row was rejected" in out.stderr
    assert "unexpected error" not in out.stderr
    assert own.read_text() == "[retrieval]\nn_candidates = 30\n"


def test_help_and_import_cost_under_a_second_of_cpu():
    """CPU time, not wall time: the figure a person gets on an idle machine, whatever else the test machine runs."""
    import resource

    for args in (["-m", "llmrec.cli", "--help"], ["-c", "import llmrec"]):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert out.returncode == 0, out.stderr
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert cpu < 1.0, (args, cpu)
