"""An installed llmrec (the wheel, not this checkout) runs `llmrec eval` and finds its package data.

The wheel is built from the checkout and installed with ``pip install --target`` into a temporary folder; every
command runs from another temporary folder with only that folder on ``PYTHONPATH``, so nothing can come from the
source tree (the test asserts where ``llmrec`` was imported from). The dependencies are the test environment's own.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(site folder holding the installed wheel, the environment that imports llmrec from it only)."""
    root = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(REPO), "-w", str(root)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = root.glob("llmrec-*.whl")
    site = root / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LLMREC_DATA", "LLMREC_ADAPTERS")}
    env["PYTHONPATH"] = str(site)
    return site, env


def run(args, env, cwd, timeout=600):
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


@pytest.mark.slow
def test_the_installed_llmrec_is_the_wheel_not_the_checkout(installed, tmp_path):
    site, env = installed
    out = run([sys.executable, "-c", "import llmrec; print(llmrec.__file__)"], env, tmp_path)
    assert Path(out.stdout.strip()).is_relative_to(site), out.stdout + out.stderr


@pytest.mark.slow
def test_llmrec_eval_help_and_a_tiny_protocol_run_from_the_wheel(installed, tmp_path):
    site, env = installed
    llmrec = [str(site / "bin" / "llmrec")]
    helped = run(llmrec + ["eval", "--help"], env, tmp_path)
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert "LlamaRec" in helped.stdout and "--train-ranker" in helped.stdout
    lines = ["user_id,item_id,timestamp"]  # 30 users x 12 of 36 items: everything survives 5-core
    lines += [f"u{user},i{(user + 3 * t) % 36},{t}" for user in range(30) for t in range(12)]
    (tmp_path / "log.csv").write_text("\n".join(lines) + "\n")
    done = run(llmrec + ["eval", "--dataset", "csv", "--data", "log.csv", "--methods", "popularity,ease",
                         "--variants", "row", "--threads", "1"], env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "eval" / "results" / "csv-llamarec.json").read_text())  # relative to the cwd
    assert set(report["results"]["row"]) == {"popularity", "ease"}
    assert report["command"].startswith("llmrec eval")
    assert report["versions"]["llmrec_commit"] == "not a checkout"


@pytest.mark.slow
def test_the_wheel_carries_the_audits_labelled_set_and_a_missing_dataset_is_one_line(installed, tmp_path):
    site, env = installed
    loaded = run([sys.executable, "-c", "from llmrec.audit.labelled_set import LABELLED_SET, load_examples; "
                  "print(LABELLED_SET); print(len(load_examples()))"], env, tmp_path)
    where, count = loaded.stdout.split()
    assert Path(where).is_relative_to(site) and int(count) > 50, loaded.stderr
    missing = run([str(site / "bin" / "llmrec"), "eval"], env, tmp_path)
    assert missing.returncode == 3 and missing.stderr.startswith("error: evaluation data not found")
    assert str(Path("..") / "shared" / "data" / "ml-latest-small") in missing.stderr


@pytest.mark.slow
def test_the_wheel_carries_its_prompts_and_web_page(installed, tmp_path):
    site, env = installed
    found = run([sys.executable, "-c", "from llmrec.prompts import prompts_dir; "
                 "from llmrec.serving.routers.web import WEB_DIR; print(prompts_dir()); print(WEB_DIR)"], env, tmp_path)
    assert found.returncode == 0, found.stderr[-2000:]
    prompts, web = (Path(line) for line in found.stdout.split())
    assert prompts.is_relative_to(site) and (prompts / "ranking.j2").is_file()
    assert web.is_relative_to(site) and {"index.html", "app.js", "style.css"} <= {p.name for p in web.iterdir()}
