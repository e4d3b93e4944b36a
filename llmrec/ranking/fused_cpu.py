"""Faster CPU inference for the transformers backend: the same function, fewer passes over memory.

A ranking pass on a CPU is a prefill of ~700 tokens. Profiled (SmolLM2-135M, float32, 2 cores, 667 tokens after an
83-token cached prefix): the matmuls run at ~85% of the machine's matmul peak, but they are only 61% of the pass;
attention is 24% and a long tail of small elementwise ops most of the rest. Three changes, each exact up to float
rounding (``tests/ranking/test_fused_cpu.py`` compares the letter scores with the stock model's):

- **RMSNorm** as one ``torch.nn.functional.rms_norm`` call instead of six ops (pow, mean, add, rsqrt, mul, mul):
  0.85 → 0.16 ms per call, 61 calls per pass. Bit-identical in float32, so only float32 models get it.
- **Causal attention of one row** (after a cached prefix or not) in blocks of new tokens, each against only the
  keys it can see (``offset_causal_attention``). The CPU flash kernel computes, for every block of queries, every
  key up to the end of its 512-key split, masked or not: below 512 keys, the whole square. After a prefix, with the
  queries shifted down by zero rows to make its causal mask the offset-causal one, that is 2.1× the FLOPs the pass
  needs at the demo's median 281 new tokens after 83 cached. Here each block of new tokens meets the prefix and the
  new tokens up to its own last one (its triangle masked), a key/value head's grouped query heads stacked into one
  batched matmul, a block's scores kept to ``SCORE_BLOCK_BYTES``. Measured inside real passes (20 demo prompts,
  2-core AMD EPYC, interleaved): attention 12-15% faster than the flash kernel, the pass 0.94×. Exact up to float
  rounding (tests).
- **The MLP's SiLU and product in place**: no two extra (tokens × intermediate) tensors per layer.

Two changes are not exact; each has its own setting, whose ``auto`` takes it where the machine probe finds bfloat16
matmuls faster. Both keep the norms, the residual stream and the logits in float32, which is what separates them from
a whole-model bfloat16 (float32's top letter in 38 of the 50 bar prompts):

- **bfloat16 attention** (``ranker.attention_dtype``): the keys and values cached in bfloat16 and the weighted sum
  of the values in bfloat16; the scores and their softmax stay float32 (rounded to bfloat16 they cost float32's top
  letter on 3 of the 50 bar prompts; as they are, 2 of 50). Through the flash kernel it ran 3× faster on an AMX Xeon;
  blocked, on an AMD EPYC with avx512_bf16, 1.2×, which ``auto`` does not take (``dtype_probe``).
- **bfloat16 MLP** (``ranker.mlp_dtype``): the feed-forward block, 3/4 of a layer's weights: its input is rounded to
  bfloat16 once, gate, up, SiLU·up and down run in bfloat16 (weights stored in bfloat16: half the memory), and the
  output goes back to float32 before the residual add. A bfloat16 matmul runs 4-5× faster than float32 here; with
  bfloat16 attention the ranking pass took 0.57 of the time of bfloat16 attention alone and kept float32's top letter
  as often (the bar's test). The attention projections stay float32: in bfloat16 too they cost 2-3 points of top-1.

One change replaces a whole decoder layer (``fused_layer``; Llama, Qwen2 and Mistral layers whose projections are
plain ``Linear`` layers, so never a LoRA-wrapped one), exact up to float rounding like the first three. Profiled on
ml-latest-small prompts, rotary embeddings, casts, residual adds and the attention mask took ~75 ms of a 355 ms pass:

- **q, k and v in one matmul, and RoPE as one complex multiply.** The q and k rows of each head are reordered at
  load from transformers' half-split pairing (i, i + d/2) to adjacent pairs (2i, 2i + 1); q and k get the same
  reordering, so every dot product q·k, and hence every attention weight, is unchanged. Adjacent pairs are complex
  numbers, and the rotation is one complex multiply over q and k together instead of ten ops (1.6 → 0.07 ms a layer).
- **The residual adds inside the matmuls**: o_proj's output lands on the residual stream through ``addmm``; the
  MLP's output is added in place.
- **SiLU and the product in the bfloat16 matmuls' epilogues** (oneDNN post-ops, ``torch.ops.mkldnn``), where this
  torch has them and they compute what the unfused ops compute (checked once at load). Their weights are reordered
  once, at load, into oneDNN's blocked layout (``_reorder_linear_weight``), which every call otherwise redoes: the
  same bits out, and the ml-latest-small pass 4% faster on an AMD EPYC with avx512_bf16 (0.824 s against 0.859,
  12 prompts interleaved). The blocked copy sits beside the plain weights, so it is made only while the MLPs' bfloat16
  weights come to at most ``MAX_PACKED_BYTES`` (SmolLM2-135M: 159 MB; Qwen2.5-Coder-0.5B: 627 MB).
- **No mask after a cached prefix**: the (q, kv) mask is never built (``_prefix_causal_mask`` returns None for one
  unpadded row, and the attention knows what None means after a prefix).

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
DECODER_LAYERS = {"LlamaDecoderLayer", "Qwen2DecoderLayer", "MistralDecoderLayer"}

# Most bytes of bfloat16 MLP weights given a second, prepacked copy (see the module docstring).
MAX_PACKED_BYTES = 1 << 30

# Bytes of attention scores computed at once (a block of new tokens, every head, against the keys they see). Measured
# on a 2-core AMD EPYC, attention time in real passes, 0.5 / 1 / 2 / 4 MiB: ml-latest-small (bfloat16, ~750 keys)
# 2,994 / 2,386 / 2,034 / 2,210 ms over 20 passes; demo (~360 keys) bfloat16 915 / 874 / 1,038 at 1 / 2 / 4 MiB,
# float32 1,439 / 1,382 / 1,427 at 0.5 / 1 / 2. Fewer than MIN_BLOCK_TOKENS a block would be all call overhead.
SCORE_BLOCK_BYTES = 2 << 20
MIN_BLOCK_TOKENS = 16

_causal_masks: dict[tuple[int, int], object] = {}
_diagonal_masks: dict[tuple[int, int], object] = {}


def _nothing() -> None:
    return None


# The last mask found to be the offset-causal pattern: every layer of a pass gets the same tensor, so one comparison
# per pass is enough (a weak reference: a later mask at the same address is a different object).
_checked_mask: Callable[[], object] = _nothing
# (weak reference to the forward pass's cos tensor, its rotations as complex numbers): see ``_rotations``.
_rotation: tuple | None = None


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


def _rotations(cos, sin):
    """(1, t, 1, d/2) complex64 e^{i·angle} from the model's (cos, sin), each (b, t, d) = cat(half, half): computed once
    per forward pass (every layer gets the same tensors) and kept while ``cos`` lives."""
    global _rotation
    import torch

    cached = _rotation
    if cached is not None and cached[0]() is cos:
        return cached[1]
    half = cos.shape[-1] // 2
    value = torch.complex(cos[..., :half].float(), sin[..., :half].float()).unsqueeze(2)
    _rotation = (weakref.ref(cos), value)
    return value


def _pairs_adjacent(weight, heads: int, head_dim: int):
    """Rows (or bias entries) of a q/k projection reordered within each head from transformers' rotary pairing
    (i, i + d/2) to adjacent (2i, 2i + 1)."""
    import torch

    order = torch.arange(head_dim).view(2, head_dim // 2).t().reshape(-1)
    return weight.reshape(heads, head_dim, *weight.shape[1:])[:, order].reshape(heads * head_dim, *weight.shape[1:])


def _fusable_layer(layer) -> bool:
    """A Llama-shaped decoder layer whose projections are plain Linear layers (a LoRA-wrapped one would lose its
    adapter), full (not sliding-window) attention and an even head size."""
    import torch

    attn, mlp = getattr(layer, "self_attn", None), getattr(layer, "mlp", None)
    if type(layer).__name__ not in DECODER_LAYERS or attn is None or mlp is None:
        return False
    projections = [getattr(attn, n, None) for n in ("q_proj", "k_proj", "v_proj", "o_proj")]
    projections += [getattr(mlp, n, None) for n in MLP_PROJECTIONS]
    return (all(type(m) is torch.nn.Linear for m in projections) and getattr(attn, "sliding_window", None) is None
            and getattr(attn, "head_dim", 1) % 2 == 0 and getattr(mlp.config, "hidden_act", None) == "silu"
            and getattr(attn, "is_causal", True))


def _pointwise_ok(mlp) -> bool:
    """Whether oneDNN's fused linear + SiLU and linear × other compute this MLP's gate and product (same answer as
    the unfused ops, to bfloat16 rounding, on a small input): not every torch build has them."""
    import torch
    import torch.nn.functional as F

    ops = getattr(torch.ops, "mkldnn", None)
    try:
        x = torch.randn(4, mlp.gate_proj.in_features, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
        with torch.inference_mode():
            gate = ops._linear_pointwise(x, mlp.gate_proj.weight, None, "swish", [], "")
            fused = ops._linear_pointwise.binary(x, gate, mlp.up_proj.weight, None, "mul")
            plain = F.silu(F.linear(x, mlp.gate_proj.weight)) * F.linear(x, mlp.up_proj.weight)
    except (AttributeError, RuntimeError, TypeError):
        return False
    scale = float(plain.float().abs().max()) or 1.0
    return float((fused.float() - plain.float()).abs().max()) <= 0.05 * scale


def _prepacked(weight):
    """``weight`` in oneDNN's blocked layout for ``_linear_pointwise``, if this torch can reorder it and the result
    is bit-identical to the plain weight's on a small input; else ``weight`` itself (the call takes either)."""
    import torch

    ops = torch.ops.mkldnn
    try:
        packed = ops._reorder_linear_weight(weight)
        x = torch.randn(3, weight.shape[1], generator=torch.Generator().manual_seed(0)).to(weight.dtype)
        with torch.inference_mode():
            same = torch.equal(ops._linear_pointwise(x, packed, None, "none", [], ""),
                               ops._linear_pointwise(x, weight, None, "none", [], ""))
    except (AttributeError, RuntimeError, TypeError):
        return weight
    return packed if same else weight


def _fuse_layer(layer, pointwise: bool, pack: bool = False) -> None:
    """Fold q, k and v into one matrix (q and k rows reordered to adjacent rotary pairs; the three projections'
    weights become views into it, so no memory is added) and switch the layer to ``_fused_layer_forward``.
    ``pointwise``: the MLP runs through oneDNN's fused epilogues; ``pack``: with its weights prepacked."""
    import torch

    attn = layer.self_attn
    heads, kv_heads = attn.config.num_attention_heads, attn.config.num_key_value_heads
    d = attn.head_dim
    q, k, v = attn.q_proj, attn.k_proj, attn.v_proj
    weight = torch.cat([_pairs_adjacent(q.weight.data, heads, d), _pairs_adjacent(k.weight.data, kv_heads, d),
                        v.weight.data])
    bias = None
    if q.bias is not None:
        bias = torch.cat([_pairs_adjacent(q.bias.data, heads, d), _pairs_adjacent(k.bias.data, kv_heads, d),
                          v.bias.data])
    rows = [0, heads * d, (heads + kv_heads) * d, (heads + 2 * kv_heads) * d]
    for i, proj in enumerate((q, k, v)):
        proj.weight.data = weight[rows[i]:rows[i + 1]]
        if bias is not None:
            proj.bias.data = bias[rows[i]:rows[i + 1]]
    attn.llmrec_qkv = (weight, bias, heads, kv_heads, d)
    layer.llmrec_pointwise = pointwise
    if pointwise:
        weights = [getattr(layer.mlp, name).weight.detach() for name in MLP_PROJECTIONS]
        layer.mlp.llmrec_weights = tuple(_prepacked(w) if pack else w for w in weights)
    layer.forward = types.MethodType(_fused_layer_forward, layer)


def _fused_layer_forward(self, hidden_states, attention_mask=None, position_ids=None, cache=None, use_cache=False,
                         position_embeddings=None, past_key_values=None, **kwargs):
    """The decoder layer's function (pre-norm attention and SiLU MLP, each added to the residual stream) with
    fewer passes over memory; see the module docstring."""
    import torch
    import torch.nn.functional as F

    attn, mlp = self.self_attn, self.mlp
    cache = cache if cache is not None else past_key_values
    weight, bias, heads, kv_heads, d = attn.llmrec_qkv
    b, t, width = hidden_states.shape
    qkv = F.linear(self.input_layernorm(hidden_states), weight, bias)
    qk_width = (heads + kv_heads) * d
    qk = qkv[..., :qk_width]
    if qk.dtype == torch.bfloat16:  # no bfloat16 complex numbers: a bfloat16 model rotates in float32
        qk = qk.float()
    pairs = torch.view_as_complex(qk.unflatten(-1, (heads + kv_heads, d // 2, 2)))
    rotated = torch.view_as_real(pairs * _rotations(*position_embeddings)).flatten(-2)  # (b, t, heads + kv, d)
    query = rotated[:, :, :heads]
    key, value = rotated[:, :, heads:], qkv[..., qk_width:].unflatten(-1, (kv_heads, d))
    # What the cache keeps, in the dtype the attention runs in: it reads nothing else.
    cheaper = getattr(attn, ATTENTION_DTYPE, None) if hidden_states.device.type == "cpu" else None
    key, value = key.to(cheaper or qkv.dtype), value.to(cheaper or qkv.dtype)
    key, value = key.transpose(1, 2), value.transpose(1, 2)
    if cache is not None:
        key, value = cache.update(key, value, attn.layer_idx)
    kv_len = key.shape[2]
    if b == 1 and 1 < t <= kv_len and attention_mask is None and hidden_states.device.type == "cpu":
        out = offset_causal_attention(query, key, value, attn.scaling, out_dtype=hidden_states.dtype)
    else:
        out, _ = _attention(attn, query.transpose(1, 2).to(key.dtype), key, value, attention_mask,
                            scaling=attn.scaling, **kwargs)
    out = out.reshape(b * t, heads * d).to(hidden_states.dtype)
    hidden = torch.addmm(hidden_states.reshape(b * t, width), out, attn.o_proj.weight.t())
    if attn.o_proj.bias is not None:
        hidden.add_(attn.o_proj.bias)
    hidden = hidden.view(b, t, width)
    normed = self.post_attention_layernorm(hidden)
    if self.llmrec_pointwise:
        ops = torch.ops.mkldnn
        gate_w, up_w, down_w = mlp.llmrec_weights
        x = normed.to(torch.bfloat16)
        gate = ops._linear_pointwise(x, gate_w, None, "swish", [], "")
        product = ops._linear_pointwise.binary(x, gate, up_w, None, "mul")
        hidden.add_(ops._linear_pointwise(product, down_w, None, "none", [], ""))
    else:
        hidden.add_(mlp(normed))
    return hidden


def _kept(store: dict, key, build):
    """``store[key]``, built on first use; a store past 16 masks starts over (shapes vary with prompt length)."""
    value = store.get(key)
    if value is None:
        if len(store) > 16:
            store.clear()
        value = store[key] = build()
    return value


def _offset_causal(q_len: int, kv_len: int):
    """The (q, kv) boolean mask of q new tokens after kv - q cached ones: True where a query may attend."""
    import torch

    return _kept(_causal_masks, (q_len, kv_len),
                 lambda: torch.ones(q_len, kv_len, dtype=torch.bool).tril(kv_len - q_len))


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
    """SDPA, except causal attention of one CPU row: blocked (``offset_causal_attention``). A module
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
    """(out (b, q, heads, d), None). ``attention_mask`` None is the causal pattern, offset by the cached keys where
    there are fewer queries than keys (``_prefix_causal_mask`` leaves that mask out), built here only if the plain
    SDPA path needs it."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    b, _, q_len, _ = query.shape
    kv_len = key.shape[2]
    unmasked = attention_mask is None and 1 < q_len <= kv_len
    plain = (b != 1 or q_len < 2 or kv_len < q_len or query.device.type != "cpu"
             or kwargs.get("position_bias") is not None or kwargs.get("softcap") is not None
             or not getattr(module, "is_causal", True)
             or not (unmasked or _is_offset_causal(attention_mask, q_len, kv_len)))
    if plain:
        if unmasked and q_len < kv_len:
            attention_mask = _offset_causal(q_len, kv_len)[None, None].expand(b, 1, -1, -1)
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    return offset_causal_attention(query.transpose(1, 2), key, value, scaling), None


def _diagonal_mask(tokens: int, groups: int):
    """(tokens × groups, tokens) float32 additive mask of a block of new tokens against their own keys: 0 where token
    i may see token j (j ≤ i), -inf elsewhere; rows ordered (token, query head within its key/value group)."""
    import torch

    def build():
        above = ~_offset_causal(tokens, tokens)
        return torch.zeros(tokens, tokens).masked_fill_(above, float("-inf")).repeat_interleave(groups, dim=0)

    return _kept(_diagonal_masks, (tokens, groups), build)


def offset_causal_attention(query, key, value, scaling=None, out_dtype=None):
    """Causal attention of q new tokens after kv - q cached ones, for one row on a CPU. ``query`` (1, q, heads, d),
    possibly a strided view; ``key``/``value`` (1, kv_heads, kv, d) with kv_heads dividing heads. Returns
    (1, q, heads, d) in ``out_dtype`` (default: the keys' dtype, in which the values' weighted sum runs).

    Blocks of new tokens, each against only the keys it can see (the prefix and the new tokens up to the block's
    last): scores as one batched matmul per key/value head, whose query heads are stacked (grouped-query heads
    share their keys, so the matmul is that many times taller), the block's own triangle masked, a softmax, and one
    batched matmul with the values. A block's scores are at most ``SCORE_BLOCK_BYTES`` (a measured size: small
    enough to stay in cache between the three steps, large enough to amortise the calls). See the module docstring
    for why not the flash kernel."""
    import torch

    _, q_len, heads, d = query.shape
    kv_heads, kv_len = key.shape[1], key.shape[2]
    groups, p = heads // kv_heads, kv_len - q_len
    dtype = key.dtype
    # Scores in float32 whatever the keys' dtype: rounded to bfloat16 they cost float32's top letter on 3 of the 50
    # bar prompts (tests/ranking/test_dtype.py). The weighted sum of the values runs in the keys' dtype.
    # (kv heads, tokens, group, d), scaled once: each key/value head's queries are one token-major matrix.
    q = torch.empty((kv_heads, q_len, groups, d))
    torch.mul(query[0].reshape(q_len, kv_heads, groups, d).permute(1, 0, 2, 3),
              scaling if scaling is not None else d ** -0.5, out=q)
    k, v = key[0].float(), value[0]
    out = torch.empty((kv_heads, q_len, groups, d), dtype=dtype)
    step = max(MIN_BLOCK_TOKENS, SCORE_BLOCK_BYTES // (heads * kv_len * 4))
    for start in range(0, q_len, step):
        end = min(start + step, q_len)
        rows = (end - start) * groups
        scores = torch.bmm(q[:, start:end].reshape(kv_heads, rows, d), k[:, :p + end].transpose(1, 2))
        scores[:, :, p + start:].add_(_diagonal_mask(end - start, groups))
        probs = torch.softmax(scores, dim=-1).to(dtype)
        torch.bmm(probs, v[:, :p + end], out=out[:, start:end].view(kv_heads, rows, d))
    result = torch.empty((q_len, kv_heads, groups, d), dtype=out_dtype or dtype)
    result.copy_(out.permute(1, 0, 2, 3))
    return result.view(1, q_len, heads, d)


def _prefix_causal_mask(batch_size, q_length, kv_length, q_offset=0, kv_offset=0, mask_function=None,
                        attention_mask=None, local_size=None, allow_is_causal_skip=True, **kwargs):
    """transformers' ``sdpa_mask``, except that one unpadded row after a cached prefix gets None: the (q, kv) mask
    costs ~6 ms to build and check per pass, and ``_attention`` knows the pattern None stands for there."""
    from transformers.masking_utils import causal_mask_function, sdpa_mask

    if mask_function is None:
        mask_function = causal_mask_function
    if (allow_is_causal_skip and batch_size == 1 and 1 < q_length < kv_length and local_size is None
            and mask_function is causal_mask_function and kv_offset == 0 and q_offset == kv_length - q_length
            and (attention_mask is None or bool(attention_mask[:, :kv_length].all()))):
        return None
    return sdpa_mask(batch_size, q_length, kv_length, q_offset=q_offset, kv_offset=kv_offset,
                     mask_function=mask_function, attention_mask=attention_mask, local_size=local_size,
                     allow_is_causal_skip=allow_is_causal_skip, **kwargs)


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    if ATTENTION not in AttentionInterface._global_mapping:
        AttentionInterface.register(ATTENTION, split_prefix_attention)
        ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, _prefix_causal_mask)


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
        pointwise = None
        layers = [m for m in model.modules() if _fusable_layer(m) and not hasattr(m.self_attn, "llmrec_qkv")]
        mlp_bytes = sum(getattr(m.mlp, name).weight.nbytes for m in layers for name in MLP_PROJECTIONS)
        for module in layers:  # not twice (llmrec_qkv): q and k rows are reordered
            if pointwise is None:
                pointwise = module.mlp.gate_proj.weight.dtype == torch.bfloat16 and _pointwise_ok(module.mlp)
            epilogues = pointwise and module.mlp.gate_proj.weight.dtype == torch.bfloat16
            _fuse_layer(module, epilogues, pack=mlp_bytes <= MAX_PACKED_BYTES)
            applied.add("fused_layer")
            if epilogues:
                applied.add("mlp_epilogues")
                if any(w.is_mkldnn for w in module.mlp.llmrec_weights):
                    applied.add("prepacked_mlp")
    return sorted(applied)
