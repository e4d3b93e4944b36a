"""Hardware profiles: which named model (and dtype and backend) a kind of machine should rank with.

``[ranker] profile = "fast" | "quality" | "gpu"`` fills ``model``, ``dtype`` and ``backend`` unless the config sets
them itself. Each profile names the model that wins its latency target in the model table
(``eval/results/model-table.md``, made by ``eval/model_table.py``); the reasons are kept beside the choice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HardwareProfile:
    model: str
    dtype: str
    backend: str
    target: str   # the latency the profile must meet
    why: str      # the measurement that chose the model


PROFILES: dict[str, HardwareProfile] = {
    "fast": HardwareProfile(
        "smollm2-135m", "float32", "transformers", "one ranking pass ≤ 1.5 s on 2 CPU cores",
        "the only named model whose float32 pass meets the target on 2 cores: 0.8 s for a 750-token known-user "
        "prompt (eval/results/bench-ask.md), where Qwen2.5-Coder-0.5B takes about 3.8 s. Zero-shot it ranks at "
        "random (sampled-20 NDCG@10 0.215 ± 0.032 on 60 users, random 0.227; eval/results/model-table.md), so the "
        "collaborative evidence and the retriever's order carry the ranking. float32 because no cheaper dtype "
        "ranks like it (tests/ranking/test_dtype.py)"),
    "quality": HardwareProfile(
        "qwen2.5-coder-0.5b", "float32", "transformers", "one ranking pass ≤ 6 s on 2 CPU cores",
        "the best zero-shot ranker in the model table (eval/results/model-table.md, 60 sampled-20 users): NDCG@10 "
        "0.408 ± 0.044, against 0.215 for SmolLM2-135M and 0.317 for Qwen2.5-Coder-1.5B; 0.52 s per pass in "
        "bfloat16 on a CPU with bf16 matmuls (set dtype = auto there), about 3.8 s in float32 on 2 AVX2 cores; "
        "the only one whose generated justifications all passed their checks (12 of 12). Inside EASE's top 20 "
        "(110 users) it only matches EASE's own order (0.419 vs 0.416), and its LoRA adapter (1000 examples, "
        "sampled-20 0.461) ranks exactly as EASE at its validated weight: nothing measured here beats EASE yet"),
    "gpu": HardwareProfile(
        "qwen2.5-coder-1.5b", "bfloat16", "vllm", "one ranking pass ≤ 0.5 s on one GPU",
        "the largest named model; on a GPU every named model meets the target, so the largest wins. Not measured "
        "here (no GPU was lent to this work): a choice by size, for a GPU row of the model table to confirm. "
        "Zero-shot on the CPU it ranked below the 0.5B (sampled-20 NDCG@10 0.317 vs 0.408, 60 users): its case "
        "rests on a QLoRA adapter, which only a GPU trains in reasonable time"),
}


def profile_defaults(cls, data):
    """RankerConfig's before-validator: the profile's model, dtype and backend where the mapping sets none itself."""
    if not isinstance(data, dict) or data.get("profile") is None:
        return data
    name = data["profile"]
    if name not in PROFILES:
        return data  # the field's own Literal check reports it
    p = PROFILES[name]
    return {"model": p.model, "dtype": p.dtype, "backend": p.backend, **data}
