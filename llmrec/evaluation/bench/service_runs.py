"""The parts of ``bench/ask.py`` that run processes: ``llmrec ask`` as a command (standalone or through a running
service), a real ``llmrec serve``, and clients hammering it.

Everything is timed from outside, as a person or a client program sees it: the wall time of a command includes its
imports (and, standalone, the model load); a client's latency includes queueing in the service.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from llmrec.evaluation.metrics import percentile

SERVED = re.compile(r"answered by the service at (\S+)")


def summary(values: list[float], digits: int = 3) -> dict:
    """n, p50, p95 and max of seconds (None when there are none)."""
    def r(x):
        return None if x is None else round(x, digits)

    return {"n": len(values), "p50": r(percentile(values, 0.5)), "p95": r(percentile(values, 0.95)),
            "max": r(max(values) if values else None)}


def cli_ask(workspace: Path, query: str, user: str | None, k: int, standalone: bool) -> dict:
    """One ``llmrec ask --json`` as a subprocess: its wall time, its stage timings, and whether the service answered."""
    cmd = [sys.executable, "-m", "llmrec.cli", "ask", query, "-w", str(workspace), "-k", str(k), "--json"]
    if user:
        cmd += ["--user", user]
    if standalone:
        cmd.append("--standalone")
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"llmrec ask failed ({out.returncode}): {out.stderr[-2000:]}")
    rec = json.loads(out.stdout)
    return {"wall_s": wall, "timings": rec["timings"], "via_service": bool(SERVED.search(out.stderr)),
            "request_id": rec["request_id"]}


class ServeProcess:
    """``llmrec serve`` on a free loopback port, in its own session; ready once its ``/healthz`` says so."""

    def __init__(self, workspace: Path, log: Path, *args: str):
        self.workspace, self.log, self.args = workspace, log, args
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.startup_s: float | None = None

    def __enter__(self) -> ServeProcess:
        t0 = time.perf_counter()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "llmrec.cli", "serve", "-w", str(self.workspace), "--port", "0", *self.args],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "LLMREC_LOG_LEVEL": "warning"})
        announced = self.workspace / "service.json"
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llmrec serve exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            try:
                info = json.loads(announced.read_text())
                if info.get("pid") == self.proc.pid:
                    with urllib.request.urlopen(info["url"] + "/healthz", timeout=2) as r:
                        if json.loads(r.read()).get("ready"):
                            self.url, self.startup_s = info["url"], time.perf_counter() - t0
                            return self
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.25)
        self.__exit__()
        raise RuntimeError("llmrec serve was not ready within 900 s")

    def health(self) -> dict:
        with urllib.request.urlopen(self.url + "/healthz", timeout=5) as r:
            return json.loads(r.read())

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)


def _post(url: str, body: dict, timeout_s: float) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url + "/v1/recommendations", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, {}, dict(e.headers)


def throughput(url: str, requests: list[dict], clients: int, per_client: int, audit_count) -> dict:
    """``clients`` threads, each sending ``per_client`` requests one after the other (cycling through ``requests``):
    statuses, requests/s, client latency, the server's own timings, and audit records added per answer."""
    before = audit_count()
    results: list[dict] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        for i in range(per_client):
            body = requests[(c * per_client + i) % len(requests)]
            t0 = time.perf_counter()
            try:
                status, rec, headers = _post(url, body, 900)
            except OSError as e:  # refused or reset: counted, not raised
                status, rec, headers = 0, {"error": str(e)}, {}
            with lock:
                results.append({"status": status, "latency_s": time.perf_counter() - t0,
                                "server_s": (rec.get("timings") or {}).get("total_s"),
                                "retry_after": headers.get("Retry-After")})

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ok = [r for r in results if r["status"] == 200]
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    return {"clients": clients, "requests": len(results), "wall_s": round(wall, 2),
            "requests_per_s": round(len(ok) / wall, 3) if wall else None, "statuses": statuses,
            "server_errors": sum(1 for r in results if r["status"] >= 500 or r["status"] == 0),
            "latency_s": summary([r["latency_s"] for r in ok]),
            "server_time_s": summary([r["server_s"] for r in ok if r["server_s"] is not None]),
            "audit_records_added": audit_count() - before, "answers": len(ok),
            "load_before_after": None}
