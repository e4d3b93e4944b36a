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
        "the only named model within the target on an idle 2-core machine: 1.07 s per pass in float32 (DESIGN.md), "
        "where Qwen2.5-Coder-0.5B takes 3.8 s. float32 because bfloat16 is 100× slower on an AVX2-only CPU; on one "
        "with AVX-512 bf16 (this one: 2.6× faster in the loaded model-table run) set dtype = bfloat16"),
    "quality": HardwareProfile(
        "qwen2.5-coder-0.5b", "float32", "transformers", "one ranking pass ≤ 6 s on 2 CPU cores",
        "the largest named model within the target on 2 cores (3.8 s per pass idle, float32); Qwen2.5-Coder-1.5B "
        "has about 3× its compute per token (about 11 s). Sampled-20 NDCG@10 zero-shot 0.237 on 60 users (DESIGN.md): "
        "it earns its cost only with an adapter, which the model table's --train row is there to show"),
    "gpu": HardwareProfile(
        "qwen2.5-coder-1.5b", "bfloat16", "vllm", "one ranking pass ≤ 0.5 s on one GPU",
        "the largest named model; on a GPU every named model meets the target, so the largest wins. Not measured "
        "here (no GPU was lent to this work): a choice by size, for a GPU row of the model table to confirm"),
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
