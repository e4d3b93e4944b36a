"""`llmrec eval` runs the eval harness, and says clearly when the data is missing."""

import json
import subprocess
import sys

import torch
from typer.testing import CliRunner

from llmrec.cli import app


def test_eval_without_data_is_one_line_naming_the_path(tmp_path):
    out = subprocess.run([sys.executable, "-m", "llmrec.cli", "eval", "--data", str(tmp_path / "nowhere")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 3
    assert out.stderr.startswith("error: evaluation data not found") and "nowhere" in out.stderr
    assert "Traceback" not in out.stderr


def test_eval_csv_without_data_says_what_to_pass():
    result = CliRunner().invoke(app, ["eval", "--dataset", "csv"])
    assert result.exit_code != 0 and "--data PATH" in str(result.exception)


def test_eval_runs_the_llamarec_protocol_and_writes_its_report(tmp_path):
    lines = ["user_id,item_id,timestamp"]  # 30 users x 12 of 36 items: everything survives 5-core
    lines += [f"u{user},i{(user + 3 * t) % 36},{t}" for user in range(30) for t in range(12)]
    (tmp_path / "log.csv").write_text("\n".join(lines) + "\n")
    previous = torch.get_num_threads()
    try:
        result = CliRunner().invoke(app, ["eval", "--dataset", "csv", "--data", str(tmp_path / "log.csv"),
                                          "--out", str(tmp_path / "out"), "--methods", "popularity,sasrec",
                                          "--variants", "row", "--epochs", "1", "--threads", "1", "--refit"])
    finally:
        torch.set_num_threads(previous)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "csv-llamarec-refit.json").read_text())
    assert set(report["results"]["row"]) == {"popularity", "sasrec"}
    assert report["protocol"]["refit_on_train_and_validation"] is True
    assert report["results"]["row"]["sasrec"]["refit"]["epochs"] == 1


def test_eval_ranker_is_for_ml_latest_small_and_says_so(tmp_path):
    (tmp_path / "log.csv").write_text("user_id,item_id,timestamp\nu1,i1,1\n")
    result = CliRunner().invoke(app, ["eval", "--dataset", "csv", "--data", str(tmp_path / "log.csv"),
                                      "--ranker", "base"])
    assert result.exit_code != 0 and "ml-latest-small" in str(result.exception)


def test_eval_ranker_with_an_unknown_adapter_fails_before_any_model_work(tmp_path):
    data = tmp_path / "ml"
    data.mkdir()
    (data / "movies.csv").write_text("movieId,title,genres\n" + "".join(f"{m},Film {m} (1990),Drama\n"
                                                                       for m in range(1, 13)))
    (data / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{(u + t) % 12 + 1},4.0,{t}\n" for u in range(1, 8) for t in range(6)))
    result = CliRunner().invoke(app, ["eval", "--data", str(data), "--ranker", "no-such-adapter",
                                      "--out", str(tmp_path / "out"), "--threads", "1"])
    assert result.exit_code != 0 and "no-such-adapter" in str(result.exception)
    assert not (tmp_path / "out").exists()
