"""``llmrec ask`` answers through a running ``llmrec serve`` for the same workspace (and says so), standalone when
none is up or with --standalone; the standalone ask prints no library noise."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from llmrec.api import Recommendation
from llmrec.serving.app import create_app
from llmrec.serving.discovery import SERVICE_FILE, find_service, remove_service_file, write_service_file
from llmrec.testing.server import BackgroundServer

SERVED = re.compile(r"answered by the service at (http://127\.0\.0\.1:\d+)")


def llmrec(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LLMREC_TOKEN"}
    return subprocess.run([sys.executable, "-m", "llmrec.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture
def workspace(text_workspace, tmp_path) -> Path:
    """A private copy of the text workspace: a service announced in it concerns this test only."""
    return Path(shutil.copytree(text_workspace, tmp_path / "workspace",
                                ignore=shutil.ignore_patterns("audit.sqlite*", "*.lock", SERVICE_FILE)))


def test_no_service_file_or_a_dead_process_means_no_service(workspace):
    assert find_service(workspace) is None
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (workspace / SERVICE_FILE).write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": gone.pid}))
    assert find_service(workspace) is None


def test_a_live_process_whose_port_does_not_answer_is_no_service(workspace):
    path = write_service_file(workspace, "127.0.0.1", 9, token_required=False)  # this process, port 9: nothing
    assert json.loads(path.read_text())["pid"] == os.getpid()
    assert find_service(workspace) is None
    remove_service_file(path)
    assert not path.exists()


def test_a_service_that_needs_a_token_is_used_only_with_one(workspace):
    write_service_file(workspace, "127.0.0.1", 9, token_required=True)
    assert find_service(workspace) is None  # without a token it could only answer 401


def test_ask_goes_to_the_running_service_and_says_so(workspace, recommender):
    app = create_app(workspace, recommender=recommender)
    service = app.state.service
    with BackgroundServer(app) as url:
        path = write_service_file(workspace, "127.0.0.1", int(url.rsplit(":", 1)[1]), token_required=False)
        try:
            assert httpx.get(url + "/healthz").json()["ready"] is False  # idle: loads on the first request
            httpx.post(url + "/v1/recommendations", json={"query": "warm up"}, timeout=300)
            assert find_service(workspace).url == url
            t0 = time.perf_counter()
            out = llmrec("ask", "a gentle science fiction film about space", "-w", str(workspace), "-k", "2",
                         "--json")
            seconds = time.perf_counter() - t0
        finally:
            remove_service_file(path)
    assert out.returncode == 0, out.stderr
    assert SERVED.search(out.stderr).group(1) == url
    rec = Recommendation.model_validate_json(out.stdout)
    # The service recorded it (the shared recommender writes to the session workspace's audit store).
    assert len(rec.items) == 2 and recommender.audit_store.get(rec.request_id) is not None
    assert service.recommender is recommender
    assert seconds < 60  # no model load in the asking process (it would not fit on a loaded machine either)


def test_ask_with_standalone_or_per_run_options_does_not_use_the_service(workspace):
    # A live announcement whose server is down: with --standalone the file is not even read.
    write_service_file(workspace, "127.0.0.1", 9, token_required=False)
    out = llmrec("ask", "jazz", "-w", str(workspace), "-k", "1", "--no-justify", "--standalone", "--json")
    assert out.returncode == 0, out.stderr
    assert "answered by the service" not in out.stderr


@pytest.mark.slow
def test_standalone_ask_prints_no_library_noise(workspace):
    out = llmrec("ask", "a podcast about money", "-w", str(workspace), "-k", "2", "--standalone")
    assert out.returncode == 0, out.stderr
    for noise in ("Loading weights", "FutureWarning", "DeprecationWarning", "it/s]", "%|", "kernels-community"):
        assert noise not in out.stderr, out.stderr
    assert "Coin" in out.stdout or "podcast" in out.stdout.lower() or out.stdout.strip()


@pytest.mark.slow
@pytest.mark.server
def test_llmrec_serve_announces_itself_loads_before_ready_and_ask_uses_it(workspace, tmp_path):
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "llmrec.cli", "serve", "-w", str(workspace), "--port", "0",
                             "--no-justify"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "LLMREC_LOG_LEVEL": "warning"})
    try:
        announced = workspace / SERVICE_FILE
        deadline = time.monotonic() + 300
        statuses = []
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            if announced.exists():
                try:
                    r = httpx.get(json.loads(announced.read_text())["url"] + "/healthz", timeout=2)
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        break
                except (httpx.HTTPError, ValueError):
                    pass
            time.sleep(0.2)
        info = json.loads(announced.read_text())
        assert info["pid"] == proc.pid and r.json()["ready"] is True and r.json()["dtype"]
        out = llmrec("ask", "relaxing piano music", "-w", str(workspace), "-k", "2")
        assert out.returncode == 0, out.stderr
        assert SERVED.search(out.stderr).group(1) == info["url"]
        noise = (tmp_path / "serve.log").read_text()
        assert "Loading weights" not in noise and "FutureWarning" not in noise
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()
    assert not announced.exists()  # removed at exit
