"""Which dtype ranks fastest on this machine: a short matmul probe, run once per machine and remembered.

Machines differ more than their names suggest: one 2-core CPU did 125 GFLOP/s in float32 and 374 in bfloat16, another
(AVX2 only) 99 and 0.9, so bfloat16 would have been 100× slower there (DESIGN.md). ``ranker.dtype = "auto"`` therefore
times the same matmul in both dtypes (about 50 ms) and takes bfloat16 only where it is clearly faster. The verdict is
kept in ``<cache>/probes/`` under a key made of the CPU, its flags, the torch version and the thread count, and in
memory for the process, so only the first process on a machine pays for it.

Attention gets its own verdict, because its kernel is not a matmul: on an AMD EPYC with avx512_bf16 (2026-12, 2
cores) bfloat16 matmuls ran 2.2× faster than float32, but the CPU flash-attention kernel ran at the same ~90 GFLOP/s
in both dtypes (8.1 ms against 7.3 for 749 causal tokens, 9 heads), and the ranking pass took the same time
either way (0.805 s against 0.809), while float32 attention kept float32's top letter in 20 of 20 requests where
bfloat16 kept it in 19. On the AMX Xeon the same kernel ran 3× faster in bfloat16. So ``attention_dtype = "auto"``
times the attention the ranker runs (``fused_cpu.offset_causal_attention``, at ``PROBE_ATTENTION``) and takes bfloat16
only where it is clearly faster there (``ATTENTION_MIN_SPEEDUP``). That attention is now blocked batched matmuls,
not the flash kernel, with its scores in float32 in either dtype; on a later EPYC (bfloat16 matmuls 4.5× float32's)
its bfloat16 ran only 1.2× faster, so float32 there. A verdict timed on another kernel (``ATTENTION_KERNEL``) is
measured again.

``peak_gflops`` (the best of ``matmul_gflops`` over a few shapes) is the "measured peak" that ranking speed is reported
against (``eval/ranking_speed.py``, ``eval/bench_ask.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# bfloat16 must beat float32 by this factor: a tie is not worth its rounding of every weight and activation.
MIN_SPEEDUP = 1.2
# Attention must beat it by more: it is a quarter of a pass, so 1.2x there is ~4% of the pass, and bfloat16 attention
# cost float32's top letter on 2 of the 50 bar prompts where the bfloat16 MLP cost none (2-core AMD EPYC: the blocked
# attention 1.18-1.26x faster in bfloat16, the demo's pass 0.94x). On the AMX Xeon the flash kernel ran 3x faster.
ATTENTION_MIN_SPEEDUP = 1.5
# (M, K) @ (K, N) shaped like the ranker's projections: a block of prompt tokens times a 576-wide layer.
PROBE_SHAPE = (128, 576, 576)
# (query heads, key/value heads, cached tokens, new tokens, head size) of an attention call shaped like the ranker's:
# SmolLM2's 9 query heads of 64 over 3 key/value heads, a block of prompt tokens after a cached static head.
PROBE_ATTENTION = (9, 3, 64, 256, 64)
# The attention the verdict was timed on: a verdict timed on another kernel is measured again.
ATTENTION_KERNEL = "blocked causal, float32 scores (fused_cpu.offset_causal_attention)"
PROBE_BUDGET_S = 0.05


@dataclass(frozen=True)
class DtypeProbe:
    """A probe's verdict: the dtype for matmuls and the two speeds it was chosen from, then the same for the
    attention kernel (``attention_speedup``: float32's time over bfloat16's)."""

    dtype: str
    float32_gflops: float
    bfloat16_gflops: float
    machine: str
    threads: int
    attention_dtype: str
    attention_speedup: float
    attention_kernel: str = ATTENTION_KERNEL


def matmul_gflops(dtype: str, shape: tuple[int, int, int] = (1024, 1024, 1024), seconds: float = 0.5,
                  min_runs: int = 3) -> float:
    """Best observed GFLOP/s of one (M, K) @ (K, N) matmul in ``dtype`` over about ``seconds`` (best, not mean:
    on a shared machine the fastest run is the one least disturbed by neighbours)."""
    import torch

    m, k, n = shape
    g = torch.Generator().manual_seed(0)
    a = torch.randn(m, k, generator=g).to(getattr(torch, dtype))
    b = torch.randn(k, n, generator=g).to(getattr(torch, dtype))
    a @ b  # warm-up: kernel selection, page faults
    best, runs, start = float("inf"), 0, time.perf_counter()
    while runs < min_runs or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
        runs += 1
    return 2 * m * k * n / best / 1e9


# Where each dtype reaches its best on the CPUs measured (2 threads): float32 at 1024² (a flat ~380 GFLOP/s on every
# shape tried), bfloat16 (AMX) only at larger or taller shapes: 1,485 GFLOP/s at 1024², 2,391 at 2048², 3,182 at
# 4096 × 1024 × 1024. A peak measured at one shape can be half the real one.
PEAK_SHAPES = ((1024, 1024, 1024), (2048, 2048, 2048), (4096, 1024, 1024))


def peak_gflops(dtype: str, shapes: tuple[tuple[int, int, int], ...] = PEAK_SHAPES,
                seconds: float = 0.5) -> tuple[float, tuple[int, int, int]]:
    """The machine's matmul peak in ``dtype``: the best GFLOP/s over ``shapes`` (``matmul_gflops`` on each), and the
    shape that reached it. What a pass's share of the hardware is held to."""
    best = max(((matmul_gflops(dtype, shape, seconds=seconds), shape) for shape in shapes), key=lambda r: r[0])
    return round(best[0], 1), best[1]


def machine_key() -> str:
    """What the verdict depends on: CPU model and flags, torch version and threads."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                cpu += "|" + line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    break
    except OSError:
        pass
    raw = f"{cpu}|torch {torch.__version__}|threads {torch.get_num_threads()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _fastest_runs(calls: dict, budget_s: float) -> dict[str, float]:
    """The best time of each dtype's call, alternating so that load from other processes hits both alike."""
    for call in calls.values():
        call()  # warm-up: kernel selection, page faults
    runs = {name: float("inf") for name in calls}
    start = time.perf_counter()
    while True:
        for name, call in calls.items():
            t0 = time.perf_counter()
            call()
            runs[name] = min(runs[name], time.perf_counter() - t0)
        # A dtype that is already several times slower will not catch up: stop early (bfloat16 without hardware
        # support takes ~40 ms a run).
        slow = max(runs.values()) / min(runs.values())
        if time.perf_counter() - start >= budget_s or slow > 4:
            return runs


def probe_dtypes(budget_s: float = PROBE_BUDGET_S) -> DtypeProbe:
    """Time float32 and bfloat16 matmuls, then causal attention, each within ``budget_s``."""
    import torch

    m, k, n = PROBE_SHAPE
    g = torch.Generator().manual_seed(0)
    a32, b32 = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
    mats = {"float32": (a32, b32), "bfloat16": (a32.bfloat16(), b32.bfloat16())}
    runs = _fastest_runs({name: (lambda a=a, b=b: a @ b) for name, (a, b) in mats.items()}, budget_s)
    flops = 2 * m * k * n
    f32, bf16 = flops / runs["float32"] / 1e9, flops / runs["bfloat16"] / 1e9
    choice = "bfloat16" if bf16 >= MIN_SPEEDUP * f32 else "float32"

    from llmrec.ranking.fused_cpu import offset_causal_attention

    heads, kv_heads, cached, tokens, size = PROBE_ATTENTION
    q = torch.randn(1, tokens, heads, size, generator=g)
    kv = torch.randn(1, kv_heads, cached + tokens, size, generator=g)
    keys = {"float32": kv, "bfloat16": kv.bfloat16()}
    with torch.inference_mode():
        runs = _fastest_runs({name: (lambda kv=kv: offset_causal_attention(q, kv, kv, out_dtype=torch.float32))
                              for name, kv in keys.items()}, budget_s)
    speedup = runs["float32"] / runs["bfloat16"]
    attention = "bfloat16" if speedup >= ATTENTION_MIN_SPEEDUP else "float32"
    return DtypeProbe(choice, round(f32, 1), round(bf16, 1), machine_key(), torch.get_num_threads(), attention,
                      round(speedup, 2))


_VERDICTS: dict[str, DtypeProbe] = {}


def fastest_dtype(cache: Path | None = None) -> DtypeProbe:
    """The probe's verdict for this machine: from memory, else from ``<cache>/probes/``, else measured and saved."""
    key = machine_key()
    if key in _VERDICTS:
        return _VERDICTS[key]
    if cache is None:
        from llmrec.llm.cache import cache_dir

        cache = cache_dir()
    path = Path(cache) / "probes" / f"dtype-{key}.json"
    verdict = None
    try:
        saved = json.loads(path.read_text())
        if saved.get("attention_kernel") != ATTENTION_KERNEL:  # older verdicts name none
            raise ValueError("timed on another attention kernel")
        verdict = DtypeProbe(**saved)
    except (OSError, ValueError, TypeError):
        verdict = probe_dtypes()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dtype-")
            with os.fdopen(fd, "w") as f:
                json.dump(asdict(verdict), f)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs the next process another 50 ms
    _VERDICTS[key] = verdict
    return verdict
