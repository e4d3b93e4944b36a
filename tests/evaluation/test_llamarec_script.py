"""eval/llamarec_protocol.py end to end on a tiny CSV log, and its message when data is missing."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "eval" / "llamarec_protocol.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("llamarec_protocol", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def restore_threads():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


def write_log(path: Path) -> Path:
    """30 users with 12 of 36 items each, every item used by 10 users: all survive 5-core, 24 unseen per user."""
    lines = ["user_id,item_id,timestamp"]
    for user in range(30):
        for t in range(12):
            lines.append(f"u{user},i{(user + 3 * t) % 36},{t}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_script_writes_json_markdown_and_plot_for_a_csv_log(script, tmp_path, restore_threads):
    log = write_log(tmp_path / "log.csv")
    out = tmp_path / "results"
    assert script.main(["--dataset", "csv", "--data", str(log), "--out", str(out), "--epochs", "1",
                        "--threads", "1", "--variants", "row"]) == 0
    report = json.loads((out / "csv-llamarec.json").read_text())
    assert report["counts"] == {"users": 30, "items": 36, "interactions": 360}
    assert set(report["results"]) == {"row"}
    for results in report["results"].values():
        assert set(results) == {"popularity", "bpr", "sasrec"}
        for result in results.values():
            assert 0.0 <= result["test"]["Recall@10"] <= 1.0
            assert len(result["test_recall_curve"]) == 50
    assert "| sasrec (ours) |" in (out / "csv-llamarec.md").read_text()
    assert (out / "csv-llamarec-recall.png").stat().st_size > 0


def test_script_says_where_it_looked_when_data_is_missing(script, tmp_path):
    with pytest.raises(SystemExit, match="data not found: .*nowhere"):
        script.main(["--data", str(tmp_path / "nowhere")])
