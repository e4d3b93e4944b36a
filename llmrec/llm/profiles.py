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
        "the only model within the target on 2 cores (ranking pass about 1 s idle); Qwen2.5-Coder-0.5B takes about "
        "4 s idle. fp32: bf16 is 100× slower on an AVX2-only CPU"),
    "quality": HardwareProfile(
        "qwen2.5-coder-0.5b", "float32", "transformers", "one ranking pass ≤ 6 s on 2 CPU cores",
        "the larger model within the target on 2 cores; Qwen2.5-Coder-1.5B (about 3× the compute) is not"),
    "gpu": HardwareProfile(
        "qwen2.5-coder-1.5b", "bfloat16", "vllm", "one ranking pass ≤ 0.5 s on one GPU",
        "the largest packaged model; on a GPU every packaged model meets the target, so the largest wins. Not "
        "measured here (no GPU was lent): a choice by size, to be confirmed by a GPU row in the table"),
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
