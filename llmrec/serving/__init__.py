"""Serving: the HTTP service and web page (``llmrec serve``), and the vLLM OpenAI-compatible server that the ``vllm``
ranking backend talks to.

The HTTP service is assembled by ``app.create_app`` from: ``service.py`` (the state behind one app and the model
lock), ``routers/`` (one router per resource), ``guard.py`` (Host, token and body checks in front of everything),
``errors.py`` (one error body shape), ``schemas.py`` (the models the HTTP API adds) and ``metrics.py``.

The service's default limits live here, free of FastAPI, so ``llmrec --help`` works on installs without the
``serve`` extra.
"""

import ipaddress

DEFAULT_MAX_BODY_BYTES = 1_000_000  # largest request body (413 above it)
# Seconds a request may wait for the model, queue included (504 past it). 16 clients' requests share the model: on
# 2 CPU cores a batch of 16 full ranking prompts and their justifications takes about a minute, so the limit leaves
# room for it; a request refused for a full queue (503, below) gets its answer at once instead.
DEFAULT_REQUEST_TIMEOUT_S = 180.0
DEFAULT_WORKERS = 16                # requests answered at once (their model calls are batched: serving/batching.py)
DEFAULT_QUEUE_LIMIT = 64            # requests running or waiting; one more is refused with 503 and Retry-After


def is_loopback(host: str) -> bool:
    """Whether a host name or address (no port, no brackets) always means this machine: ``localhost`` or a
    loopback address. No DNS is asked: a name an attacker's DNS resolves to 127.0.0.1 is not loopback here."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, lower-cased, without port or IPv6 brackets: ``[::1]:8000`` → ``::1``.

    A header that is not ``name[:port]`` comes back whole (lower-cased), so it matches no allowed name by accident.
    """
    host = host_header.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name if rest == "" or (rest[:1] == ":" and rest[1:].isdigit()) else host
    name, sep, port = host.partition(":")
    return name if not sep or port.isdigit() else host
