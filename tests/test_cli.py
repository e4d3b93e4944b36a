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
