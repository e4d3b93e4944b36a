"""The dequantised copy of a packaged model follows the package: new GGUF bytes mean a rebuilt copy.

Dequantising is the one step replaced here (it takes 40 s on the real 135M model and is exercised by every test that
ranks); what is under test is when the cache is trusted.
"""

from llmrec.llm import gguf as gguf_module, registry
from llmrec.llm.registry import PackagedModel, resolve_model


def test_an_upgraded_package_rebuilds_the_cached_model_and_an_unchanged_one_reuses_it(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    gguf = package / "tiny.gguf"
    gguf.write_bytes(b"GGUF version one")
    builds = []

    def dequantise(source, gguf_file, dest):
        builds.append((source / gguf_file).read_bytes())
        (dest / "config.json").write_text("{}")
        (dest / "weights.txt").write_bytes((source / gguf_file).read_bytes())

    monkeypatch.setenv("LLMREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(registry.PACKAGED_MODELS, "tiny", PackagedModel("tiny", "tiny_pkg", "tiny.gguf", "pip ..."))
    monkeypatch.setattr(registry, "_package_dir", lambda package_name, hint: package)
    monkeypatch.setattr(gguf_module, "dequantise", dequantise)

    first = resolve_model("tiny")
    assert resolve_model("tiny") == first and len(builds) == 1  # unchanged package: the copy is reused
    gguf.write_bytes(b"GGUF version two")
    again = resolve_model("tiny")
    assert len(builds) == 2 and (again / "weights.txt").read_bytes() == b"GGUF version two"
    (again / "llmrec-model.json").write_text('{"gguf_sha256_first_mib": ')  # torn marker: rebuilt, not trusted
    resolve_model("tiny")
    assert len(builds) == 3
