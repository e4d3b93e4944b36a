"""`llmrec llm serve|stop` and ``VLLMServer``: clear errors before starting, clean stops that leave no process.

Tests that start vLLM need the virtualenv at ``$LLMREC_VLLM_VENV`` (default ``./.venv-vllm``): skipped when it is
missing, failed when ``CI=true``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmrec.errors import BackendUnavailable, ModelNotFoundError
from llmrec.serving.vllm_server import VLLMServer, free_port, port_is_free
from llmrec.testing.vllm import require_vllm_venv

CLI = [sys.executable, "-c", "from llmrec.serving.llm_commands import llm_app; llm_app()"]



def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_busy_port_is_refused_before_anything_starts():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        server = VLLMServer(port=port, venv=Path("/nonexistent-venv"))
        server.state_path.write_text("{}")  # as if `llmrec llm serve` in another shell owned this port
        try:
            with pytest.raises(BackendUnavailable, match=f"port {port} .* already in use"):
                server.start()
            server.stop()  # what `llmrec llm serve` does on the way out
            assert server.state_path.exists(), "a refused start must not forget the running server"
        finally:
            server.state_path.unlink(missing_ok=True)


def test_a_folder_without_a_model_is_refused(tmp_path):
    with pytest.raises(ModelNotFoundError, match="neither a named model .* nor a folder with config.json"):
        VLLMServer(model=str(tmp_path), port=free_port(), venv=Path("/nonexistent-venv")).start()


def test_serve_takes_the_model_from_the_workspace_config(tmp_path):
    ws, not_a_model = tmp_path / "ws", tmp_path / "empty-model-folder"
    ws.mkdir()
    not_a_model.mkdir()
    (ws / "llmrec.toml").write_text(f'[ranker]\nmodel = "{not_a_model}"\nvllm_url = "http://127.0.0.1:{free_port()}"\n')
    out = subprocess.run([sys.executable, "-c", "from llmrec.cli import main; main()", "llm", "serve",
                          "--workspace", str(ws)], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "empty-model-folder" in out.stderr and "neither a named model" in out.stderr


def test_an_adapter_folder_without_weights_is_refused(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match="not a LoRA adapter folder"):
        VLLMServer(adapters={"x": tmp_path}, port=free_port(), venv=Path("/nonexistent-venv")).start()


def test_lora_layers_wrap_only_what_the_adapters_target_at_the_smallest_rank(tmp_path):
    folders = {}
    for name, rank, targets in (("a", 8, ["q_proj", "v_proj"]), ("b", 12, ["o_proj", "v_proj"])):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "adapter_config.json").write_text(json.dumps({"r": rank, "target_modules": targets}))
        (folders[name] / "adapter_model.safetensors").write_bytes(name.encode())
    server = VLLMServer(adapters=folders, port=free_port(), venv=Path("/nonexistent-venv"))
    server._check_adapters()
    cmd = server.command(Path("/model"), cuda=False)
    assert cmd[cmd.index("--max-lora-rank") + 1] == "16"
    assert cmd[cmd.index("--lora-target-modules") + 1:][:3] == ["o_proj", "q_proj", "v_proj"]
    assert cmd[cmd.index("--max-loras") + 1] == "2" and "--enable-lora" in cmd


@pytest.mark.slow
@pytest.mark.vllm
def test_a_model_vllm_cannot_load_fails_with_the_end_of_its_log(tmp_path):
    venv = require_vllm_venv()
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    with pytest.raises(BackendUnavailable, match="exited with code .* Last lines of"):
        VLLMServer(model=str(tmp_path), port=free_port(), venv=venv, startup_timeout_s=300).start()


def _serve(port: int) -> subprocess.Popen:
    """`llmrec llm serve` in a child process (as from another shell); returns once it printed its URL."""
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()  # the only line on stdout, printed once healthy
    assert url == f"http://127.0.0.1:{port}", f"serve printed {url!r}, exit code {proc.poll()}"
    return proc


def _server_pgid(port: int) -> int:
    from llmrec.serving.vllm_server import running_servers

    [state] = [s for s in running_servers() if s["port"] == port]
    return state["pgid"]


@pytest.mark.slow
@pytest.mark.vllm
def test_llm_stop_from_another_shell_leaves_no_process():
    require_vllm_venv()
    port = free_port()
    proc = _serve(port)
    try:
        pgid = _server_pgid(port)
        stopped = subprocess.run([*CLI, "stop", "--port", str(port)], capture_output=True, text=True, timeout=120)
        assert stopped.returncode == 0 and f"127.0.0.1:{port}" in stopped.stdout
        assert proc.wait(timeout=60) == 0
        assert not group_alive(pgid) and port_is_free(port)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
@pytest.mark.vllm
def test_ctrl_c_stops_the_server_cleanly():
    require_vllm_venv()
    port = free_port()
    proc = _serve(port)
    try:
        pgid = _server_pgid(port)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=90) == 0
        deadline = time.monotonic() + 10
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not group_alive(pgid) and port_is_free(port)
        from llmrec.serving.vllm_server import running_servers

        assert all(s["port"] != port for s in running_servers())
    finally:
        if proc.poll() is None:
            proc.kill()
