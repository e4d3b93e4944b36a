"""``llmrec serve``: the HTTP API and web page for one workspace (FastAPI + uvicorn, one process, one model)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from llmrec.cli_options import AdapterOpt, BackendOpt, ConfigOpt, NoJustifyOpt, WorkspaceOpt, load_config
from llmrec.serving import DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT_S, is_loopback

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
        warm: Annotated[bool, typer.Option(help="load the models at startup rather than on the first request")]
        = True,
        allow_no_token: Annotated[bool, typer.Option("--allow-no-token", help="serve a non-loopback address "
                                                     "without --token (e.g. behind an authenticating proxy)")]
        = False,
        allowed_host: Annotated[Optional[list[str]], typer.Option(
            "--allowed-host", metavar="NAME", help="also answer requests addressed to this Host name, e.g. the one a "
            "local proxy forwards (repeatable; '*' for any); default: any name with --token, only loopback names "
            "without")] = None,
    ) -> None:
        """Serve the HTTP API (/v1/..., docs at /docs) and the web page (/) for a workspace."""
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
        api = create_app(workspace, cfg, token=token, max_body_bytes=max_body, request_timeout_s=timeout, warm=warm,
                         allowed_hosts=allowed_host or None)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"llmrec serving {Path(workspace).resolve()} on http://{shown}:{port}/ (API docs /docs, metrics "
                   f"/metrics{', bearer token required' if token else ''}); Ctrl-C stops", err=True)
        uvicorn.run(api, host=host, port=port, log_level=os.environ.get("LLMREC_LOG_LEVEL", "info"),
                    timeout_graceful_shutdown=5)


def _standalone() -> typer.Typer:
    """``python -m llmrec.serving.http_commands serve ...``: the same command without the rest of the CLI."""
    cli = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)

    @cli.callback()
    def _root() -> None:
        """llmrec HTTP service."""

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
