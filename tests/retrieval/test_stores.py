"""Vector stores: the embedded Chroma and a real Chroma server behave the same behind one contract."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from llmrec.config import VectorStoreConfig
from llmrec.errors import BackendUnavailable
from llmrec.retrieval.stores import AnnSettings, open_store


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


class StoreContract:
    """Subclasses provide a ``store`` fixture."""

    def test_upsert_is_idempotent_and_query_returns_nearest_first(self, store):
        col = store.collection("contract")
        vecs = np.stack([unit([1, 0, 0]), unit([0, 1, 0]), unit([0.9, 0.1, 0])])
        col.upsert(["a", "b", "c"], vecs, documents=["A", "B", "C"])
        col.upsert(["a", "b", "c"], vecs)
        assert col.count() == 3
        got = col.query(unit([1, 0, 0]), 3)
        assert [n.id for n in got] == ["a", "c", "b"]
        assert got[0].similarity == pytest.approx(1.0, abs=1e-4)

    def test_query_excludes_ids_and_still_returns_n(self, store):
        col = store.collection("exclude")
        col.upsert([f"i{i}" for i in range(10)], np.stack([unit([1, i, 0]) for i in range(10)]))
        got = col.query(unit([1, 0, 0]), 3, exclude={"i0", "i1"})
        assert [n.id for n in got] == ["i2", "i3", "i4"]

    def test_a_collection_created_with_ann_settings_answers_like_any_other(self, store):
        col = store.collection("tuned", ann=AnnSettings(search_ef=200, construction_ef=200, max_neighbors=32))
        col.upsert(["a", "b"], np.stack([unit([1, 0, 0]), unit([0, 1, 0])]))
        assert [n.id for n in store.collection("tuned").query(unit([0.1, 1, 0]), 2)] == ["b", "a"]

    def test_vectors_read_back_equal_what_was_written(self, store):
        col = store.collection("readback")
        v = unit([0.2, 0.3, 0.9])
        col.upsert(["x"], v[None, :])
        assert np.allclose(col.get_vectors(["x", "missing"])["x"], v, atol=1e-6)


class TestEmbeddedChroma(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        return open_store(VectorStoreConfig(), tmp_path)

    def test_data_survives_reopening(self, tmp_path):
        open_store(VectorStoreConfig(), tmp_path).collection("keep").upsert(["a"], unit([1, 0])[None, :])
        assert open_store(VectorStoreConfig(), tmp_path).collection("keep").count() == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    exe = Path(sys.executable).parent / "chroma"
    if not exe.exists():
        exe = shutil.which("chroma")
    assert exe, "the chroma CLI (from chromadb) must be installed"
    port = free_port()
    proc = subprocess.Popen([str(exe), "run", "--host", "127.0.0.1", "--port", str(port), "--path",
                             str(tmp_path_factory.mktemp("chroma-server"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            open_store(VectorStoreConfig(url=url), Path("."))
            break
        except BackendUnavailable:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("chroma server did not start within 60 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.server
class TestChromaServer(StoreContract):
    @pytest.fixture
    def store(self, chroma_server):
        return open_store(VectorStoreConfig(url=chroma_server), Path("."))


def test_an_unreachable_chroma_server_is_a_clear_backend_error():
    with pytest.raises(BackendUnavailable, match="chroma run --host 127.0.0.1"):
        open_store(VectorStoreConfig(url=f"http://127.0.0.1:{free_port()}"), Path("."))
