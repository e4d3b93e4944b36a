"""``llmrec serve``: the HTTP API and web page for one workspace (FastAPI + uvicorn, one process, one model)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from llmrec.cli_options import AdapterOpt, BackendOpt, ConfigOpt, NoJustifyOpt, WorkspaceOpt, load_config
from llmrec.serving import (DEFAULT_MAX_BODY_BYTES, DEFAULT_QUEUE_LIMIT, DEFAULT_REQUEST_TIMEOUT_S, DEFAULT_WORKERS,
                            is_loopback)

from llmrec.serving.batching import DEFAULT_BATCH_WINDOW_S, DEFAULT_MAX_BATCH

if TYPE_CHECKING:
    from llmrec.config import RankerConfig


def check_ranker_names(ranker: RankerConfig) -> None:
    """Fail on a ranker backend, model folder or adapter that does not exist or does not fit, without loading any
    weights.

    The service loads its model in the background (or on the first request) and reports a failure only in /healthz,
    so a typo would otherwise start a server that answers every recommendation with 503.
    """
    from llmrec.llm.adapters import check_adapter_base, resolve_adapter
    from llmrec.errors import ConfigError
    from llmrec.llm.registry import PACKAGED_MODELS, model_id, resolve_model
    from llmrec.ranking.backends.base import backend_names

    known = backend_names()
    for option, name in (("backend", ranker.backend), ("fallback_backend", ranker.fallback_backend)):
        if name is not None and name not in known:
            raise ConfigError(f"unknown ranker backend {name!r} (ranker.{option}); known: {', '.join(known)}")
    if ranker.model in PACKAGED_MODELS:  # its packages now (the pip command when missing); dequantised on first use
        PACKAGED_MODELS[ranker.model].part_paths()
    else:
        resolve_model(ranker.model)  # ModelNotFoundError: neither a packaged name nor a folder with config.json
    adapter = resolve_adapter(ranker.adapter)  # ModelNotFoundError naming the folders it looked in
    if adapter is not None:
        check_adapter_base(adapter, model_id(ranker.model))  # ConfigError: trained on another base model


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the ``llmrec`` typer app."""

    @app.command()
    def serve(
        workspace: WorkspaceOpt = Path("workspace"),
        host: Annotated[str, typer.Option(help="address to bind; loopback unless you mean to expose it")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port")] = 8000,
        token: Annotated[Optional[str], typer.Option(help="require 'Authorization: Bearer TOKEN' on the API",
                                                     envvar="LLMREC_TOKEN", show_envvar=True)] = None,
        config: ConfigOpt = None,
        backend: BackendOpt = None,
        adapter: AdapterOpt = None,
        no_justify: NoJustifyOpt = False,
        timeout: Annotated[float, typer.Option(min=0.1, help="seconds a request may wait for the model, queue "
                                               "included (504 past it)")] = DEFAULT_REQUEST_TIMEOUT_S,
        max_body: Annotated[int, typer.Option(min=1, help="largest request body in bytes (413 above it)")]
        = DEFAULT_MAX_BODY_BYTES,
        warm: Annotated[bool, typer.Option(help="load the models and run one ranking pass at startup (/healthz "
                                           "answers 503 until then) rather than on the first request")] = True,
        workers: Annotated[int, typer.Option(min=1, help="requests answered at once; their ranking passes share "
                                             "one batched forward pass")] = DEFAULT_WORKERS,
        queue: Annotated[int, typer.Option(min=1, help="requests running or waiting; one more is refused with 503 "
                                           "and Retry-After")] = DEFAULT_QUEUE_LIMIT,
        max_batch: Annotated[int, typer.Option(min=1, help="prompts in one batched model pass (1: each request's "
                                               "pass alone, no padding)")] = DEFAULT_MAX_BATCH,
        batch_window_ms: Annotated[float, typer.Option(min=0, help="how long a model pass waits for concurrent "
                                                       "requests to join it")] = DEFAULT_BATCH_WINDOW_S * 1000,
        allow_no_token: Annotated[bool, typer.Option("--allow-no-token", help="serve a non-loopback address "
                                                     "without --token (e.g. behind an authenticating proxy)")]
        = False,
        allowed_host: Annotated[Optional[list[str]], typer.Option(
            "--allowed-host", metavar="NAME", help="also answer requests addressed to this Host name, e.g. the one a "
            "local proxy forwards (repeatable; '*' for any); default: any name with --token, only loopback names "
            "without")] = None,
    ) -> None:
        """Serve the HTTP API (/v1/..., docs at /docs) and the web page (/) for a workspace.

        The models load once, at start-up; while it runs, `llmrec ask` on the same workspace sends its requests here
        (the server announces itself in <workspace>/service.json, removed when it stops)."""
        import uvicorn

        from llmrec.serving.app import create_app
        from llmrec.workspace import Workspace

        for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("ANONYMIZED_TELEMETRY", "False"),
                            ("TOKENIZERS_PARALLELISM", "false")):
            os.environ.setdefault(name, value)  # never reach for a model hub, as the rest of the CLI
        Workspace(workspace)  # fail now, with the workspace's own message, rather than on the first request
        cfg = load_config(workspace, config).with_serving_options(backend, adapter, justify=not no_justify)
        check_ranker_names(cfg.ranker)
        if not is_loopback(host) and not token:
            # The audit log holds every request's history and explanation: exposing it must be a decision.
            if not allow_no_token:
                from llmrec.errors import ConfigError

                raise ConfigError(f"refusing to serve {host} without --token: anyone who can reach this machine "
                                  "could use the API and read its audit records; pass --token (or LLMREC_TOKEN), "
                                  "or --allow-no-token if a proxy in front authenticates")
            typer.echo(f"warning: serving on {host} without --token (--allow-no-token)", err=True)
            # The proxy in front decides who gets through, and under which name: answer any unless told which.
            allowed_host = allowed_host or ["*"]
        if queue < workers:
            from llmrec.errors import ConfigError

            raise ConfigError(f"--queue ({queue}) must be at least --workers ({workers})")
        api = create_app(workspace, cfg, token=token, max_body_bytes=max_body, request_timeout_s=timeout, warm=warm,
                         allowed_hosts=allowed_host or None, workers=workers, queue_limit=queue,
                         max_batch=max_batch, batch_window_s=batch_window_ms / 1000)
        if port == 0:  # announce the port the clients will reach, so pick it here rather than let uvicorn
            port = _free_port(host)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"llmrec serving {Path(workspace).resolve()} on http://{shown}:{port}/ (API docs /docs, metrics "
                   f"/metrics{', bearer token required' if token else ''}); Ctrl-C stops", err=True)
        from llmrec.serving.discovery import remove_service_file, write_service_file

        announced = write_service_file(Path(workspace), host, port, token_required=bool(token))
        # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler it found: make that
        # one an exit that runs the `finally` below, so a stopped server does not leave its announcement behind.
        import signal
        import sys

        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        try:
            uvicorn.run(api, host=host, port=port, log_level=os.environ.get("LLMREC_LOG_LEVEL", "info"),
                        timeout_graceful_shutdown=5)
        finally:
            remove_service_file(announced)


def _free_port(host: str) -> int:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _standalone() -> typer.Typer:
    """``python -m llmrec.serving.http_commands serve ...``: the same command without the rest of the CLI."""
    cli = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)

    @cli.callback()
    def _root(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show the libraries' own logs")]
              = False) -> None:
        """llmrec HTTP service."""
        from llmrec.quiet import quiet_libraries

        quiet_libraries(verbose)

    register(cli)
    return cli


if __name__ == "__main__":
    import sys

    from llmrec.errors import LLMRecError

    try:
        _standalone()(standalone_mode=True)
    except LLMRecError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
