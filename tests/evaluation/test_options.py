"""What every eval driver shares: the workspace option reads like the ``llmrec`` command's own."""

from __future__ import annotations

import argparse
from pathlib import Path

from llmrec.evaluation.options import add_workspace_argument


def driver_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_workspace_argument(parser, default=Path("demo-workspace"))
    return parser


def test_a_drivers_workspace_is_spelled_and_defaulted_as_the_cli_takes_it(monkeypatch):
    monkeypatch.delenv("LLMREC_WORKSPACE", raising=False)
    parser = driver_parser()
    assert parser.parse_args([]).workspace == Path("demo-workspace")
    assert parser.parse_args(["--workspace", "a"]).workspace == Path("a")
    assert parser.parse_args(["-w", "b"]).workspace == Path("b")


def test_a_drivers_workspace_comes_from_the_environment_like_the_clis(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from llmrec.cli import app

    monkeypatch.setenv("LLMREC_WORKSPACE", str(tmp_path / "from-env"))
    assert driver_parser().parse_args([]).workspace == tmp_path / "from-env"
    assert driver_parser().parse_args(["-w", "given"]).workspace == Path("given")  # the flag wins, as in the CLI
    shown = CliRunner().invoke(app, ["ask", "--help"], env={"COLUMNS": "200"}).output
    assert "LLMREC_WORKSPACE" in shown and "-w" in shown
