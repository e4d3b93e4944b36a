"""Faster CPU inference for the transformers backend: the same function, fewer passes over memory.

A ranking pass on a CPU is a prefill of ~700 tokens. Profiled (SmolLM2-135M, float32, 2 cores, 667 tokens after an
83-token cached prefix): the matmuls run at ~85% of the machine's matmul peak, but they are only 61% of the pass;
attention is 24% and a long tail of small elementwise ops most of the rest. Three changes, each exact up to float
rounding (``tests/ranking/test_fused_cpu.py`` compares the letter scores with the stock model's):

- **RMSNorm** as one ``torch.nn.functional.rms_norm`` call instead of six ops (pow, mean, add, rsqrt, mul, mul):
  0.85 → 0.16 ms per call, 61 calls per pass. Bit-identical in float32, so only float32 models get it.
- **Attention after a cached prefix.** With keys/values already cached, q_len < kv_len, transformers hands SDPA an
  explicit mask, and the CPU flash kernel then computes every block, the upper triangle included (6.5 ms per layer
  against 4.0 for a causal pass of the same queries). Here the keys split in two: the cached prefix, which every new
  token sees (no mask), and the new tokens, which are causal among themselves (``is_causal``, half the blocks). The
  two partial softmaxes merge exactly by their log-sum-exp, as split-KV (flash-decoding) kernels do.
- **The MLP's SiLU and product in place**: no two extra (tokens × intermediate) tensors per layer.

Two changes are not exact; each has its own setting, whose ``auto`` takes it where the machine probe finds bfloat16
matmuls faster. Both keep the norms, the residual stream and the logits in float32, which is what separates them from
a whole-model bfloat16 (float32's top letter in 38 of the 50 bar prompts):

- **bfloat16 attention** (``ranker.attention_dtype``): softmax(QK^T)V only. The CPU flash kernel runs 3× faster in
  bfloat16 (AMX); on the bar it kept float32's top letter in 49 of 50 (Spearman 0.999).
- **bfloat16 MLP** (``ranker.mlp_dtype``): the feed-forward block, 3/4 of a layer's weights: its input is rounded to
  bfloat16 once, gate, up, SiLU·up and down run in bfloat16 (weights stored in bfloat16: half the memory), and the
  output goes back to float32 before the residual add. A bfloat16 matmul runs 4-5× faster than float32 here; with
  bfloat16 attention the ranking pass took 0.57 of the time of bfloat16 attention alone and kept float32's top letter
  as often (the bar's test). The attention projections stay float32: in bfloat16 too they cost 2-3 points of top-1.

Only inference models get these (the backend loads with ``is_trainable=False``): in-place activations would break
autograd, so ``llmrec train`` never sees them. Unknown architectures keep their stock modules.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable

ATTENTION = "llmrec_sdpa"
ATTENTION_DTYPE = "llmrec_attention_dtype"  # attribute set on attention modules that run in a cheaper dtype
MLP_PROJECTIONS = ("gate_proj", "up_proj", "down_proj")
# Module classes whose forward is known to be exactly what the replacement computes (transformers 5.x sources).
RMS_NORMS = {"LlamaRMSNorm", "Qwen2RMSNorm", "MistralRMSNorm"}
SILU_MLPS = {"LlamaMLP", "Qwen2MLP", "MistralMLP"}

_causal_masks: dict[tuple[int, int], object] = {}


def _nothing() -> None:
    return None


# The last mask found to be the offset-causal pattern: every layer of a pass gets the same tensor, so one comparison
# per pass is enough (a weak reference: a later mask at the same address is a different object).
_checked_mask: Callable[[], object] = _nothing


def _rms_norm_forward(self, hidden_states):
    import torch.nn.functional as F

    return F.rms_norm(hidden_states, self.weight.shape, self.weight, self.variance_epsilon)


def _silu_mlp_forward(self, x):
    import torch.nn.functional as F

    gate = F.silu(self.gate_proj(x), inplace=True)
    return self.down_proj(gate.mul_(self.up_proj(x)))


def _bfloat16_mlp_forward(self, x):
    import torch
    import torch.nn.functional as F

    xb = x.to(torch.bfloat16)
    gate = F.silu(self.gate_proj(xb), inplace=True)
    return self.down_proj(gate.mul_(self.up_proj(xb))).to(x.dtype)


def _plain_linear_mlp(module) -> bool:
    """gate/up/down are plain Linear layers (a LoRA-wrapped projection would lose its adapter if bypassed)."""
    import torch

    return all(type(getattr(module, name, None)) is torch.nn.Linear for name in MLP_PROJECTIONS)


def _offset_causal(q_len: int, kv_len: int):
    """The (q, kv) boolean mask of q new tokens after kv - q cached ones: True where a query may attend."""
    import torch

    key = (q_len, kv_len)
    mask = _causal_masks.get(key)
    if mask is None:
        mask = torch.ones(q_len, kv_len, dtype=torch.bool).tril(kv_len - q_len)
        if len(_causal_masks) > 16:
            _causal_masks.clear()
        _causal_masks[key] = mask
    return mask


def _is_offset_causal(mask, q_len: int, kv_len: int) -> bool:
    global _checked_mask
    import torch

    if _checked_mask() is mask:
        return True
    if mask.dtype != torch.bool or mask.shape[-2:] != (q_len, kv_len) \
            or not torch.equal(mask[0, 0], _offset_causal(q_len, kv_len)):
        return False
    _checked_mask = weakref.ref(mask)
    return True


def split_prefix_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    """SDPA, except one CPU row after a cached prefix: prefix part + causal part, merged by log-sum-exp. A module
    marked with a cheaper attention dtype (``apply(..., attention_dtype=...)``) runs in it and returns float32."""
    import torch

    cheaper = getattr(module, ATTENTION_DTYPE, None)
    if cheaper is not None and query.dtype == torch.float32 and query.device.type == "cpu" \
            and (attention_mask is None or attention_mask.dtype == torch.bool):
        out, weights = _attention(module, query.to(cheaper), key.to(cheaper), value.to(cheaper), attention_mask,
                                  dropout, scaling, **kwargs)
        return out.to(torch.float32), weights
    return _attention(module, query, key, value, attention_mask, dropout, scaling, **kwargs)


def _attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    import torch
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    b, _, q_len, _ = query.shape
    kv_len = key.shape[2]
    plain = (b != 1 or q_len < 2 or kv_len <= q_len or attention_mask is None or query.device.type != "cpu"
             or kwargs.get("position_bias") is not None or kwargs.get("softcap") is not None
             or not getattr(module, "is_causal", True) or not _is_offset_causal(attention_mask, q_len, kv_len))
    if plain:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    p = kv_len - q_len
    flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    seen, seen_lse = flash(query, key[:, :, :p], value[:, :, :p], 0.0, False, scale=scaling)
    new, new_lse = flash(query, key[:, :, p:], value[:, :, p:], 0.0, True, scale=scaling)
    # softmax over both parts = each part's softmax weighted by its share of the total mass, exp(lse_i) / sum.
    share = torch.sigmoid(seen_lse - new_lse).unsqueeze(-1).to(new.dtype)
    out = torch.lerp(new, seen, share)
    return out.transpose(1, 2).contiguous(), None


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    if ATTENTION not in AttentionInterface._global_mapping:
        AttentionInterface.register(ATTENTION, split_prefix_attention)
        ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)


def apply(model, attention_dtype: str = "float32", mlp_dtype: str = "float32") -> list[str]:
    """Switch an inference model to the fused paths in place; returns what was applied (for logs and records).
    ``attention_dtype = "bfloat16"``: a float32 model's attention (softmax(QK^T)V only; projections, norms and the
    residual stream stay float32) runs in bfloat16. ``mlp_dtype = "bfloat16"``: its SiLU MLPs run in bfloat16, their
    weights converted in place (an MLP with a LoRA-wrapped projection stays float32)."""
    import torch

    applied: set[str] = set()
    float32 = next(model.parameters()).dtype == torch.float32
    config = getattr(model, "config", None)
    split = config is not None and getattr(config, "_attn_implementation", None) in ("sdpa", ATTENTION)
    cheaper_attention = split and float32 and attention_dtype == "bfloat16"
    cheaper_mlp = float32 and mlp_dtype == "bfloat16"
    for module in model.modules():
        name = type(module).__name__
        if name in RMS_NORMS and float32:
            module.forward = types.MethodType(_rms_norm_forward, module)
            applied.add("rms_norm")
        elif name in SILU_MLPS and getattr(module.config, "hidden_act", None) == "silu":
            if cheaper_mlp and _plain_linear_mlp(module):
                for projection in MLP_PROJECTIONS:
                    getattr(module, projection).to(torch.bfloat16)
                module.forward = types.MethodType(_bfloat16_mlp_forward, module)
                applied.add("bfloat16_mlp")
            else:
                module.forward = types.MethodType(_silu_mlp_forward, module)
                applied.add("silu_mlp")
        elif cheaper_attention and hasattr(module, "num_key_value_groups") and hasattr(module, "scaling"):
            setattr(module, ATTENTION_DTYPE, torch.bfloat16)
            applied.add("bfloat16_attention")
    if split:
        _register_attention()
        model.set_attn_implementation(ATTENTION)
        applied.add("split_prefix_attention")
    return sorted(applied)
