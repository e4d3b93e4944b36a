"""How ``llmrec ask`` finds a running ``llmrec serve`` for the same workspace, and asks it instead of loading models.

``llmrec serve`` writes ``<workspace>/service.json`` (where it listens, its pid, whether it wants a token) when it
starts and removes it when it stops. ``ask`` uses the service when that file names a live process whose ``/healthz``
answers 200 (not 503: loading), and answers standalone otherwise: a stale file (a killed server) or a server still loading costs one
failed connection, not a wrong answer. Standard library only (urllib), so ``ask`` needs neither httpx nor FastAPI.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from llmrec.errors import BackendUnavailable, LLMRecError, RequestError, UnknownUserError

SERVICE_FILE = "service.json"
PROBE_TIMEOUT_S = 3.0  # a local service answers /healthz in milliseconds, even busy; a dead port at once


@dataclass(frozen=True)
class RunningService:
    url: str                 # e.g. http://127.0.0.1:8000
    pid: int
    token_required: bool


def client_host(host: str) -> str:
    """The address a local client dials for a server bound to ``host`` (a wildcard bind is reached on loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def write_service_file(workspace: Path, host: str, port: int, token_required: bool) -> Path:
    """Announce this process's service for ``workspace``; returns the file to remove at exit."""
    path = Path(workspace) / SERVICE_FILE
    info = {"url": f"http://{client_host(host)}:{port}", "host": host, "port": port, "pid": os.getpid(),
            "token_required": token_required, "started": time.time()}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    tmp.replace(path)
    return path


def remove_service_file(path: Path) -> None:
    """Remove the announcement, unless another server has replaced it with its own meanwhile."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def find_service(workspace: Path, token: str | None = None) -> RunningService | None:
    """The service announced in ``workspace`` if it takes requests now, else None (no file, dead process, still
    loading, needs a token we do not have)."""
    try:
        info = json.loads((Path(workspace) / SERVICE_FILE).read_text())
        service = RunningService(str(info["url"]), int(info["pid"]), bool(info.get("token_required")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(service.pid) or (service.token_required and not token):
        return None
    try:
        # 200: ready, or idle (`serve --no-warm`: it loads on its first request, once, for every later ask too).
        with urllib.request.urlopen(service.url + "/healthz", timeout=PROBE_TIMEOUT_S) as r:
            json.loads(r.read())
    except (OSError, ValueError):  # refused, 503 (loading or failed), timed out, not JSON
        return None
    return service


def ask_service(service: RunningService, request: dict, token: str | None = None, timeout_s: float = 600.0):
    """POST one ``AskRequest`` (as a dict) to the service; its ``Recommendation``. Errors the service reports come
    back as the error the standalone ask would raise (RequestError for 400, ...)."""
    from llmrec.api import Recommendation

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(service.url + "/v1/recommendations", data=json.dumps(request).encode(),
                                 headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            return Recommendation.model_validate_json(r.read())
    except urllib.error.HTTPError as e:
        try:
            message = json.loads(e.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {e.code}"
        error = {400: RequestError, 404: UnknownUserError, 422: RequestError}.get(e.code)
        if error is None:
            error = BackendUnavailable if e.code in (502, 503, 504) else LLMRecError
        raise error(f"the service at {service.url} answered {e.code}: {message}") from None
    except OSError as e:
        raise BackendUnavailable(f"the service at {service.url} did not answer ({e}); re-run with --standalone")\
            from None
