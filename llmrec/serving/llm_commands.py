"""``llmrec llm serve|stop|status``: run the vLLM server that ``ranker.backend = "vllm"`` talks to."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from llmrec.cli_options import OptionalWorkspaceOpt

llm_app = typer.Typer(no_args_is_help=True, help="Serve the ranking LLM (and LoRA adapters) with vLLM's "
                                                 "OpenAI-compatible server for `ranker.backend = \"vllm\"`.")


def _parse_adapters(specs: list[str]) -> dict[str, Path]:
    from llmrec.llm.adapters import resolve_adapter
    from llmrec.errors import ConfigError

    adapters: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:  # a bare name or folder: served under the folder's name, which is what the backend asks for
            folder = resolve_adapter(spec)
            name = folder.name
        else:
            if not name or "@" in name:
                raise ConfigError(f"--adapter {spec!r}: expected NAME=PATH with a NAME without '@' "
                                  "(llmrec appends the adapter version itself)")
            folder = resolve_adapter(path)
        adapters[name] = folder
    return adapters


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@llm_app.command()
def serve(
    workspace: OptionalWorkspaceOpt = None,
    model: Annotated[Optional[str], typer.Option(help="packaged model name or a local transformers folder "
                                                      "[default: ranker.model, smollm2-135m]")] = None,
    adapter: Annotated[Optional[list[str]], typer.Option(
        help="LoRA adapter NAME=PATH (or a name under adapters/, or a folder); repeatable. Served as "
             "NAME@<version hash> [default: ranker.adapter]")] = None,
    port: Annotated[Optional[int], typer.Option(help="port on 127.0.0.1 [default: the port of ranker.vllm_url, "
                                                     "else 8100]")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="float32 or bfloat16; default float32 on CPU, bfloat16 on "
                                                      "GPU")] = None,
    max_model_len: Annotated[int, typer.Option(help="longest prompt + output, in tokens")] = 4096,
    kv_cache_gib: Annotated[int, typer.Option(help="KV cache on CPU, GiB")] = 1,
    startup_timeout: Annotated[float, typer.Option(help="seconds to wait for the server to become healthy")] = 600,
) -> None:
    """Start vLLM (building its virtualenv on first use), print its URL, and run until Ctrl-C or `llmrec llm stop`.

    With --workspace, serve what that workspace's ranker asks for, where it asks: its ranker model, adapter and the
    port of its vllm_url; the options below override them."""
    from urllib.parse import urlparse

    from llmrec.config import LLMRecConfig
    from llmrec.serving.vllm_server import VLLMServer
    from llmrec.workspace import Workspace

    # The server must serve what the workspace's ranker will ask for, at the URL it will ask at.
    ranker = (Workspace.config_of(workspace) if workspace is not None else LLMRecConfig()).ranker
    model = model or ranker.model
    adapter = adapter or ([ranker.adapter] if ranker.adapter else [])
    port = port or (urlparse(ranker.vllm_url).port if ranker.vllm_url else None) or 8100
    server = VLLMServer(model, _parse_adapters(adapter or []), port=port, dtype=dtype, max_model_len=max_model_len,
                        kv_cache_gib=kv_cache_gib, startup_timeout_s=startup_timeout)
    # SIGTERM (e.g. from a process manager) stops the server like Ctrl-C does. SIGINT is set explicitly too: a shell
    # that starts a command in the background without job control leaves SIGINT ignored, and Python keeps it so.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    typer.echo(f"starting vLLM on port {port} (log: {server.log_path}) …", err=True)
    try:
        server.start(log=lambda s: typer.echo(f"note: {s}", err=True))
        typer.echo(server.url)
        typer.echo(f"model {server.served_model_name}" + "".join(f"; adapter {n}" for n in server.lora_names.values())
                   + f". Use ranker.backend = \"vllm\", ranker.vllm_url = \"{server.url}\". Ctrl-C stops it.",
                   err=True)
        while server.process is not None and server.process.poll() is None:
            time.sleep(1)
        code = server.process.returncode
        typer.echo(f"vLLM server on port {port} stopped (exit code {code}; log: {server.log_path}).", err=True)
        if code not in (0, -signal.SIGTERM):
            raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("stopping vLLM …", err=True)
    finally:
        server.stop()


@llm_app.command()
def stop(port: Annotated[Optional[int], typer.Option(help="only the server on this port")] = None) -> None:
    """Stop vLLM servers started by `llmrec llm serve` (in any shell)."""
    from llmrec.serving.vllm_server import stop_servers

    stopped = stop_servers(port)
    if not stopped:
        typer.echo("no running vLLM server started by llmrec" + (f" on port {port}" if port else ""), err=True)
    for s in stopped:
        typer.echo(f"stopped vLLM at {s['url']} (pid {s['pid']})")


@llm_app.command()
def status() -> None:
    """List vLLM servers started by `llmrec llm serve` that are still running."""
    from llmrec.serving.vllm_server import running_servers

    servers = running_servers()
    if not servers:
        typer.echo("no running vLLM server started by llmrec")
    for s in servers:
        names = [s["served_model_name"], *s["adapters"].values()]
        typer.echo(f"{s['url']}  pid {s['pid']}  serving {', '.join(names)}  log {s['log']}")
