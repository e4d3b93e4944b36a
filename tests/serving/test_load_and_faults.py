"""The service under load and under faults, as a separate ``serve`` process on 127.0.0.1.

- Load: 16 concurrent clients send a bounded number of requests (200 by default, ``LLMREC_LOAD_REQUESTS``); no
  answer may be a 5xx, and every successful answer leaves exactly one audit record. Throughput and p50/p95 are written
  to eval/results/service-load.json and .md when ``LLMREC_WRITE_RESULTS=1`` (else to the test's tmp folder).
- kill -9 while clients are writing, then restart: both SQLite stores pass integrity_check, every acknowledged
  recommendation is readable, and the restarted server answers.
- A vLLM backend that is down or hangs gives a clean 503 within its timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np
import pytest

from llmrec.audit.store import AuditStore

pytestmark = [pytest.mark.slow, pytest.mark.server]

REPO = Path(__file__).resolve().parents[2]
# The committed figures are refreshed on request only, so a test run leaves the checkout clean:
#   LLMREC_WRITE_RESULTS=1 .venv/bin/python -m pytest tests/serving/test_load_and_faults.py -k load
RESULTS = REPO / "eval" / "results"
WRITE_RESULTS = os.environ.get("LLMREC_WRITE_RESULTS") == "1"
LOAD_REQUESTS = int(os.environ.get("LLMREC_LOAD_REQUESTS", "200"))
LOAD_CLIENTS = 16
# A client waits for a batch of up to LOAD_CLIENTS requests' model calls. This test measures the service, not the
# shedding of late requests (tested in test_http_api.py), so its limit leaves room for the whole queue on busy cores.
LOAD_TIMEOUT_S = 300
# A lean ranking prompt keeps a few hundred requests inside minutes on 2 shared CPU cores.
SERVER_CONFIG = """
[retrieval]
n_candidates = 8

[ranker]
history_in_prompt = 5
card_chars_in_prompt = 60

[justification]
enabled = false
"""
REQUESTS = [
    {"query": "a gentle science fiction film about space", "k": 3},
    {"query": "something funny", "k": 3},
    {"query": "a podcast about money and saving", "k": 2},
    {"query": "relaxing piano music", "k": 3},
    {"query": "a tense thriller that is not gory", "k": 5},
    {"query": "more space films", "user_id": "scifi_fan", "k": 3},
    {"query": "", "user_id": "listener", "k": 3},
    {"query": "", "history": ["a1", "a3"], "k": 2},
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``llmrec serve`` in its own process (and session, so a kill reaches nothing else)."""

    def __init__(self, workspace: Path, *args: str, log: Path):
        self.workspace, self.args, self.log = workspace, args, log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 300) -> "ServerProcess":
        env = {**os.environ, "LLMREC_LOG_LEVEL": "warning"}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "llmrec.serving.http_commands", "serve", "--workspace", str(self.workspace),
                 "--port", str(self.port), *self.args], stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                model = httpx.get(f"{self.url}/healthz", timeout=2).json()["model"]
                if model == "ready":
                    return self
                assert not model.startswith("unavailable"), model
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise AssertionError(f"server not ready within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()


def _copy_workspace(source: Path, dest: Path) -> Path:
    """A private copy of an ingested workspace (without its audit records), tuned by SERVER_CONFIG."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("audit.sqlite*", "*.lock"))
    (dest / "llmrec.toml").write_text(SERVER_CONFIG)
    return dest


def _integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except OSError:
        return ""


# ---- load ------------------------------------------------------------------------------------------------------------
async def _load(url: str, n_requests: int, clients: int) -> tuple[list[dict], float]:
    results: list[dict] = []
    pending = list(range(n_requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        async def one_client() -> None:
            while pending:
                i = pending.pop()
                t0 = time.perf_counter()
                r = await client.post("/v1/recommendations", json=REQUESTS[i % len(REQUESTS)])
                body = r.json()
                results.append({"status": r.status_code, "latency_s": time.perf_counter() - t0,
                                "request_id": body.get("request_id"),
                                "model_s": (body.get("timings") or {}).get("total_s")})

        t0 = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        return results, time.perf_counter() - t0


def _write_load_report(report: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service-load.json").write_text(json.dumps(report, indent=2) + "\n")
    lat, model = report["latency_s"], report["server_time_s"]
    md = f"""# llmrec serve under load

{report['requests']} `POST /v1/recommendations` from {report['clients']} concurrent clients on loopback, against one
`llmrec serve` process ({report['config']['backend']}, {report['config']['model']}, {report['config']['n_candidates']}
candidates, justifications from card facts, `--timeout {report['config']['request_timeout_s']}`). Generated by `tests/serving/test_load_and_faults.py::
test_load_sixteen_clients_no_5xx_and_one_audit_record_per_answer` on {report['date']} (commit {report['commit']}).

| measure | value |
|---|---|
| throughput | {report['throughput_rps']:.2f} requests/s ({report['wall_s']:.1f} s wall) |
| client latency p50 / p95 / max | {lat['p50']:.2f} / {lat['p95']:.2f} / {lat['max']:.2f} s |
| server time per request (in `timings.total_s`) p50 / p95 | {model['p50']:.3f} / {model['p95']:.3f} s |
| statuses | {', '.join(f'{k}: {v}' for k, v in report['statuses'].items())} |
| 5xx | {report['server_errors']} |
| audit records added / successful answers | {report['audit_records_added']} / {report['successes']} |
| machine | {report['machine']['cpus']} CPUs, load average {report['machine']['loadavg_before'][0]:.1f} before, {report['machine']['loadavg_after'][0]:.1f} after (other jobs share the cores) |

Up to 16 requests run at once (`llmrec serve --workers`); their model calls go through one model thread that puts
concurrent ranking passes into one batched forward pass (`llmrec/serving/batching.py`), so client latency is about one
batch of {report['clients']} requests, not {report['clients']} requests one after the other. Health checks and metrics
stay responsive meanwhile (see `test_http_api.py`).
"""
    (folder / "service-load.md").write_text(md)


@pytest.fixture(scope="module")
def load_workspace(text_workspace, tmp_path_factory):
    return _copy_workspace(text_workspace, tmp_path_factory.mktemp("load") / "workspace")


def test_load_sixteen_clients_no_5xx_and_one_audit_record_per_answer(load_workspace, tmp_path):
    server = ServerProcess(load_workspace, "--timeout", str(LOAD_TIMEOUT_S), log=tmp_path / "server.log").start()
    try:
        store = AuditStore(load_workspace / "audit.sqlite")
        before = store.count()
        load_before = os.getloadavg()
        results, wall = asyncio.run(_load(server.url, LOAD_REQUESTS, LOAD_CLIENTS))
        load_after = os.getloadavg()
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    finally:
        server.stop()

    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    ok = [r for r in results if r["status"] == 200]
    latencies = np.array([r["latency_s"] for r in results])
    model_s = np.array([r["model_s"] for r in ok])
    added = store.count() - before
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": _git_commit(),
        "requests": len(results), "clients": LOAD_CLIENTS, "wall_s": round(wall, 2),
        "throughput_rps": round(len(results) / wall, 3), "statuses": statuses,
        "server_errors": sum(1 for r in results if r["status"] >= 500), "successes": len(ok),
        "audit_records_added": added,
        "latency_s": {k: round(float(v), 3) for k, v in (
            ("p50", np.percentile(latencies, 50)), ("p95", np.percentile(latencies, 95)),
            ("p99", np.percentile(latencies, 99)), ("mean", latencies.mean()), ("max", latencies.max()))},
        "server_time_s": {k: round(float(v), 4) for k, v in (
            ("p50", np.percentile(model_s, 50)), ("p95", np.percentile(model_s, 95)), ("mean", model_s.mean()))},
        "config": {"backend": "transformers", "model": "smollm2-135m", "n_candidates": 8, "justification": False,
                   "request_timeout_s": LOAD_TIMEOUT_S, "request_mix": REQUESTS},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in load_after]},
    }
    _write_load_report(report, RESULTS if WRITE_RESULTS else tmp_path)

    assert len(results) == LOAD_REQUESTS
    assert report["server_errors"] == 0, statuses
    assert len(ok) == LOAD_REQUESTS, statuses
    ids = [r["request_id"] for r in ok]
    assert len(set(ids)) == len(ids)
    assert added == len(ok)  # exactly one record per answer ...
    assert all(store.get(i) is not None for i in ids)  # ... and it is the answer's own
    assert f"llmrec_recommendations_served_total {len(ok)}" in metrics


# ---- kill -9 ---------------------------------------------------------------------------------------------------------
async def _write_until_killed(server: ServerProcess, min_acks: int, clients: int = 4) -> list[str]:
    """Clients post recommendations until the server dies; it is killed at a random moment after ``min_acks``."""
    acked: list[str] = []
    dead = asyncio.Event()

    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        async def writer(i: int) -> None:
            n = i
            while not dead.is_set():
                try:
                    r = await client.post("/v1/recommendations", json=REQUESTS[n % len(REQUESTS)])
                except httpx.HTTPError:
                    return
                assert r.status_code == 200, r.text
                acked.append(r.json()["request_id"])
                n += clients

        async def killer() -> None:
            while len(acked) < min_acks:
                await asyncio.sleep(0.02)
            await asyncio.sleep(random.uniform(0.0, 1.0))  # lands anywhere in a request, the audit write included
            server.kill9()
            dead.set()

        await asyncio.gather(killer(), *(writer(i) for i in range(clients)))
    return acked


@pytest.fixture(scope="module")
def fault_workspace(text_workspace, tmp_path_factory):
    return _copy_workspace(text_workspace, tmp_path_factory.mktemp("fault") / "workspace")


def test_kill_9_during_writes_then_restart_loses_nothing_acknowledged(fault_workspace, tmp_path):
    acked: list[str] = []
    for cycle in range(2):
        server = ServerProcess(fault_workspace, log=tmp_path / "server.log").start()
        try:
            acked += asyncio.run(_write_until_killed(server, min_acks=3 + cycle * 2))
        finally:
            server.stop()
        assert server.proc.returncode == -signal.SIGKILL

        for db in ("audit.sqlite", "state.sqlite", "chroma/chroma.sqlite3"):
            if (fault_workspace / db).exists():
                assert _integrity(fault_workspace / db) == "ok", db
        store = AuditStore(fault_workspace / "audit.sqlite")
        assert all(store.get(i) is not None for i in acked), "an acknowledged recommendation was lost"
        # One record may exist whose answer never reached its client: written, then killed before the reply.
        assert len(acked) <= store.count() <= len(acked) + cycle + 1

    server = ServerProcess(fault_workspace, log=tmp_path / "server.log").start()
    try:
        assert httpx.get(f"{server.url}/v1/recommendations/{acked[0]}", timeout=30).status_code == 200
        r = httpx.post(f"{server.url}/v1/recommendations", json=REQUESTS[0], timeout=120)
        assert r.status_code == 200
        assert AuditStore(fault_workspace / "audit.sqlite").get(r.json()["request_id"]) is not None
    finally:
        server.stop()


# ---- a vLLM backend that is down -------------------------------------------------------------------------------------
class _HangingServer:
    """Accepts TCP connections and never answers: a vLLM server that has stopped responding."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


class _StoppingServer:
    """Answers ``GET /v1/models`` like a vLLM server serving the default model, until it is stopped."""

    def __init__(self, model: str = "smollm2-135m"):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = json.dumps({"object": "list", "data": [{"id": model, "object": "model"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                self.send_response(200 if self.path == "/v1/models" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _vllm_recommender(workspace: Path, url: str, timeout_s: float):
    pytest.importorskip("llmrec.ranking.backends.vllm_backend",
                        reason="the vllm ranking backend (issue 3) is not in this checkout yet")
    from llmrec.config import LLMRecConfig
    from llmrec.recommender import Recommender

    config = LLMRecConfig.from_toml(workspace / "llmrec.toml")
    config.ranker.backend = "vllm"
    config.ranker.vllm_url = url
    config.ranker.vllm_timeout_s = timeout_s
    return Recommender(workspace, config)


@pytest.mark.parametrize("failure", ["closed port", "hanging server", "stopped mid-run"])
def test_vllm_backend_down_is_a_clean_503_within_its_timeout(fault_workspace, failure):
    from fastapi.testclient import TestClient

    from llmrec.serving.app import create_app

    fake = {"hanging server": _HangingServer, "stopped mid-run": _StoppingServer}.get(failure, lambda: None)()
    url = fake.url if fake else f"http://127.0.0.1:{_free_port()}"
    try:
        recommender = _vllm_recommender(fault_workspace, url, timeout_s=3.0)
        app = create_app(fault_workspace, recommender=recommender, request_timeout_s=30)
        with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as c:
            c.post("/v1/recommendations", json={"query": "warm up the retriever"})
            if failure == "stopped mid-run":
                assert recommender.backend.served_name == "smollm2-135m"  # it was up when the backend opened
                fake.close()
            t0 = time.perf_counter()
            r = c.post("/v1/recommendations", json={"query": "a gentle science fiction film"})
            elapsed = time.perf_counter() - t0
            health = c.get("/healthz")
            metrics = c.get("/metrics").text
    finally:
        if fake and failure != "stopped mid-run":
            fake.close()
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["type"] == "backend_unavailable" and url.rsplit(":", 1)[1] in error["message"]
    assert elapsed < 3.0 * 2 + 5  # the backend's own timeout (with one retry at most), not the request limit
    assert health.status_code == 200
    assert 'llmrec_backend_errors_total{error="BackendUnavailable"} 2' in metrics
