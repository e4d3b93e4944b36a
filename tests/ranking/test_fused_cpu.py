"""The fused CPU paths compute what the stock transformers modules compute, only faster."""

from __future__ import annotations

import pytest
import torch

from llmrec.config import RankerConfig
from llmrec.prompts import default_library
from llmrec.ranking import fused_cpu
from llmrec.ranking.ranker import LLMRanker
from llmrec.testing.ranking_contract import prompt_and_letters


@pytest.fixture(scope="module")
def stock_backend():
    from llmrec.ranking.backends import open_backend

    return open_backend(RankerConfig(dtype="float32", fused_cpu_ops=False))


@pytest.fixture(scope="module")
def ranker(llm_backend):
    return LLMRanker(llm_backend, default_library(), RankerConfig(dtype="float32"))


def test_the_default_cpu_backend_runs_every_fused_path(llm_backend, stock_backend):
    assert llm_backend.fused_ops == ["fused_layer", "rms_norm", "silu_mlp", "split_prefix_attention"]
    assert stock_backend.fused_ops == []


def _cached_part(prompt, kind: str) -> str:
    """The text a pass takes from the prefix cache: the static head, nothing, or all but the last line (a prefix
    longer than what follows it)."""
    if kind == "static head":
        return prompt.static_prefix
    if kind == "all but the last line":
        return prompt.text[:prompt.text.rstrip().rindex("\n") + 1]
    return ""


@pytest.mark.parametrize("prefix", ["static head", "all but the last line", "full pass"])
def test_fused_scores_equal_the_stock_modules_scores(ranker, llm_backend, stock_backend, prefix):
    prompts = [prompt_and_letters(ranker, q, h, n) for q, h, n in
               [("a quiet film about trains", 3, 8), ("", 0, 20), ("jazz for a rainy night", 6, 12)]]
    for prompt, letters in prompts:
        use = _cached_part(prompt, prefix)
        fused = llm_backend.option_logprobs([prompt.text], letters, prefix=use)[0]
        stock = stock_backend.option_logprobs([prompt.text], letters, prefix=use)[0]
        assert fused == pytest.approx(stock, abs=1e-4)
        assert max(range(len(fused)), key=fused.__getitem__) == max(range(len(stock)), key=stock.__getitem__)


@pytest.mark.parametrize("prefix", ["static head", "all but the last line", "full pass"])
def test_a_ranking_pass_attends_in_blocks_without_the_flash_kernel(ranker, llm_backend, monkeypatch, prefix):
    """After a cached prefix, short or long, or with none, every layer attends through the blocked causal
    attention: the flash kernel, which would compute the masked-out triangle too, is never called."""
    prompt, letters = prompt_and_letters(ranker, "a film about the sea", 2, 6)
    cached = _cached_part(prompt, prefix)
    if cached:
        llm_backend.prefix_state(cached)  # computed before the spies: the pass alone is counted
    blocked, flash = [], []
    real_blocked = fused_cpu.offset_causal_attention
    real_flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu

    class FlashSpy:
        def __call__(self, *args, **kwargs):
            flash.append(1)
            return real_flash(*args, **kwargs)

    monkeypatch.setattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", FlashSpy())
    monkeypatch.setattr(fused_cpu, "offset_causal_attention",
                        lambda q, k, v, *a, **kw: blocked.append(q.shape[1]) or real_blocked(q, k, v, *a, **kw))
    llm_backend.option_logprobs([prompt.text], letters, prefix=cached)
    tokens = len(llm_backend.tokenizer(prompt.text, add_special_tokens=False)["input_ids"])
    p = len(llm_backend.tokenizer(cached, add_special_tokens=False)["input_ids"]) if cached else 0
    assert (0 < p <= tokens - p) == (prefix == "static head")
    assert blocked == [tokens - p] * llm_backend.model.config.num_hidden_layers
    assert flash == []


def test_padded_rows_fall_back_to_masked_attention_with_equal_scores(ranker, llm_backend, stock_backend,
                                                                     monkeypatch):
    monkeypatch.setattr(llm_backend, "pad_batches", True)
    monkeypatch.setattr(stock_backend, "pad_batches", True)
    short, letters = prompt_and_letters(ranker, "", 0, 4)
    long, _ = prompt_and_letters(ranker, "something long about chess, birds and sailing at sea", 5, 4)
    fused = llm_backend.option_logprobs([short.text, long.text], letters, prefix=short.static_prefix)
    stock = stock_backend.option_logprobs([short.text, long.text], letters, prefix=short.static_prefix)
    for a, b in zip(fused, stock):
        assert a == pytest.approx(b, abs=1e-4)


class _Attention(torch.nn.Module):
    is_causal = True

    def __init__(self, groups: int):
        super().__init__()
        self.num_key_value_groups = groups


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)])
def test_split_attention_equals_masked_sdpa_after_a_prefix(dtype, tol):
    """Grouped-query shapes as in SmolLM2 (9 query heads over 3 key/value heads), 40 cached + 70 new tokens."""
    from transformers.integrations.sdpa_attention import repeat_kv

    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 9, 70, 64, generator=g).to(dtype)
    k = torch.randn(1, 3, 110, 64, generator=g).to(dtype)
    v = torch.randn(1, 3, 110, 64, generator=g).to(dtype)
    mask = torch.ones(70, 110, dtype=torch.bool).tril(40)[None, None]
    out, _ = fused_cpu.split_prefix_attention(_Attention(3), q, k, v, mask, scaling=0.125)
    expected = torch.nn.functional.scaled_dot_product_attention(q, repeat_kv(k, 3), repeat_kv(v, 3), attn_mask=mask,
                                                                scale=0.125).transpose(1, 2)
    assert out.shape == (1, 70, 9, 64)
    assert (out.float() - expected.float()).abs().max().item() < tol


@pytest.mark.parametrize("new,cached,heads,kv_heads", [
    (281, 83, 9, 3),     # the demo's median pass: several blocks, the prefix shorter than the new tokens
    (70, 400, 9, 3),     # a prefix longer than the new tokens
    (300, 4000, 9, 3),   # long: in float32, blocks of the smallest size
    (130, 0, 4, 4),      # no prefix, one key/value head per query head
    (2, 1, 14, 2)])      # Qwen2.5-0.5B's grouping, two new tokens
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 3e-2)])
def test_blocked_attention_equals_masked_sdpa_at_every_block_boundary(new, cached, heads, kv_heads, dtype, tol):
    """Each block of new tokens sees the prefix and the new tokens up to itself, never one after: the same output
    as SDPA with the explicit offset-causal mask, from a strided query view as the fused layer hands it over."""
    from transformers.integrations.sdpa_attention import repeat_kv

    g = torch.Generator().manual_seed(new)
    rotated = torch.randn(1, new, heads + kv_heads, 64, generator=g)  # q and k rotated together, as in the layer
    query = rotated[:, :, :heads]
    k = torch.randn(1, kv_heads, cached + new, 64, generator=g).to(dtype)
    v = torch.randn(1, kv_heads, cached + new, 64, generator=g).to(dtype)
    mask = torch.ones(new, cached + new, dtype=torch.bool).tril(cached)[None, None]
    groups = heads // kv_heads
    expected = torch.nn.functional.scaled_dot_product_attention(
        query.transpose(1, 2), repeat_kv(k.float(), groups), repeat_kv(v.float(), groups), attn_mask=mask,
        scale=0.125).transpose(1, 2)
    with torch.inference_mode():
        out = fused_cpu.offset_causal_attention(query, k, v, 0.125)
        as_float = fused_cpu.offset_causal_attention(query, k, v, 0.125, out_dtype=torch.float32)
    assert out.shape == (1, new, heads, 64) and out.dtype == dtype and as_float.dtype == torch.float32
    assert (out.float() - expected).abs().max().item() < tol
    assert torch.equal(as_float, out.float())


def test_any_other_mask_is_left_to_sdpa():
    """A mask with a hole in it (a padded position) is not the plain causal pattern: the split would ignore it."""
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 2, n, 16, generator=g) for n in (10, 25, 25))
    mask = torch.ones(10, 25, dtype=torch.bool).tril(15)[None, None].clone()
    mask[..., 3] = False
    out, _ = fused_cpu.split_prefix_attention(_Attention(1), q, k, v, mask)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2)
    assert torch.allclose(out, expected, atol=1e-6)



def test_generation_runs_with_bfloat16_attention_and_mlp_on_left_padded_rows(llm_backend):
    """Justifications decode through the same layers: a padded batch (left padding, then one token at a time) with
    bfloat16 attention and MLP writes what float32 writes, greedily."""
    from llmrec.ranking.backends import open_backend

    cheaper = open_backend(RankerConfig(dtype="float32", attention_dtype="bfloat16", mlp_dtype="bfloat16"))
    assert {"bfloat16_attention", "bfloat16_mlp"} <= set(cheaper.fused_ops)
    prompts = [llm_backend.chat([{"role": "user", "content": "Name a colour."}]),
               llm_backend.chat([{"role": "user", "content": "Write one short sentence about trains and the sea."}])]
    texts = cheaper.complete(prompts, max_new_tokens=8, stop="\n")
    assert len(texts) == 2 and all(t.strip() for t in texts)
    reference = llm_backend.complete(prompts, max_new_tokens=8, stop="\n")
    assert sum(a.split()[:2] == b.split()[:2] for a, b in zip(texts, reference)) >= 1


def test_a_bfloat16_mlp_stores_its_weights_in_bfloat16_and_hands_float32_back(llm_backend):
    from llmrec.ranking.backends import open_backend

    cheaper = open_backend(RankerConfig(dtype="float32", attention_dtype="float32", mlp_dtype="bfloat16"))
    assert cheaper.dtype == "float32 (bfloat16 MLP)"
    assert "bfloat16_mlp" in cheaper.fused_ops and "silu_mlp" not in cheaper.fused_ops
    layer, reference = cheaper.model.model.layers[3], llm_backend.model.model.layers[3]
    assert {p.dtype for p in layer.mlp.parameters()} == {torch.bfloat16}
    assert layer.self_attn.q_proj.weight.dtype == layer.post_attention_layernorm.weight.dtype == torch.float32
    x = torch.randn(1, 7, layer.mlp.gate_proj.in_features, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out, expected = layer.mlp(x), reference.mlp(x)
    assert out.dtype == torch.float32 and out.shape == expected.shape
    error = float((out - expected).norm() / expected.norm())
    assert 0 < error < 0.02  # bfloat16 rounding (2^-8 relative), nothing worse and not a float32 no-op


def test_an_mlp_with_a_lora_wrapped_projection_stays_float32():
    """Bypassing a LoRA layer would drop its adapter, so such an MLP keeps the float32 fused path."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=1, vocab_size=64)
    model = get_peft_model(LlamaForCausalLM(config), LoraConfig(r=2, target_modules=["up_proj"]))
    applied = fused_cpu.apply(model.get_base_model(), mlp_dtype="bfloat16")
    assert "silu_mlp" in applied and "bfloat16_mlp" not in applied
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    plain = LlamaForCausalLM(config)
    assert "bfloat16_mlp" in fused_cpu.apply(plain, mlp_dtype="bfloat16")
    assert plain.model.layers[0].mlp.down_proj.weight.dtype == torch.bfloat16


def _tiny(kind: str):
    """A random two-layer model of each fused architecture: grouped-query heads, and q/k/v biases for Qwen2."""
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    shape = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=128, attn_implementation="sdpa")
    torch.manual_seed(0)
    if kind == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**shape))
        for layer in model.model.layers:  # nonzero biases, so that a misplaced one shows
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                torch.nn.init.normal_(proj.bias, std=0.5)
    else:
        model = LlamaForCausalLM(LlamaConfig(**shape))
    return model.eval()


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
@pytest.mark.parametrize("cached", [0, 6, 30])
def test_a_fused_layer_computes_what_the_stock_layer_computes(kind, cached):
    """q, k and v in one matmul with the rotary pairs reordered, RoPE as a complex multiply, the residual adds in the
    matmuls: the same next-token logits as the stock model, after no prefix, a short one and a long one."""
    import copy

    from transformers import DynamicCache

    stock = _tiny(kind)
    fused = copy.deepcopy(stock)
    assert "fused_layer" in fused_cpu.apply(fused)
    ids = torch.randint(0, 128, (1, 40), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        logits = []
        for model in (stock, fused):
            cache = DynamicCache()
            if cached:
                model(input_ids=ids[:, :cached], cache=cache, use_cache=True)
            logits.append(model(input_ids=ids[:, cached:], cache=cache, use_cache=True).logits[0, -1])
    assert torch.allclose(logits[0], logits[1], atol=1e-4)


def test_the_bfloat16_mlp_epilogues_compute_what_the_bfloat16_mlp_computes(monkeypatch):
    """SiLU and the product inside oneDNN's bfloat16 matmuls (where this torch has them): the logits of the unfused
    bfloat16 MLP, to bfloat16 rounding."""
    import copy

    stock = _tiny("llama")
    fused = copy.deepcopy(stock)
    applied = fused_cpu.apply(fused, mlp_dtype="bfloat16")
    if "mlp_epilogues" not in applied:
        pytest.skip("this torch build has no oneDNN linear post-ops")
    monkeypatch.setattr(fused_cpu, "_fusable_layer", lambda layer: False)
    assert "fused_layer" not in fused_cpu.apply(stock, mlp_dtype="bfloat16")
    ids = torch.randint(0, 128, (1, 40), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        a, b = (model(input_ids=ids).logits[0, -1] for model in (stock, fused))
    assert float((a - b).norm() / a.norm()) < 0.02


def test_prepacked_mlp_weights_give_the_same_bits_and_only_below_the_memory_cap(monkeypatch):
    """The bfloat16 MLP's weights reordered once at load into oneDNN's blocked layout: the logits are exactly those
    of the plain weights; above ``MAX_PACKED_BYTES`` no second copy is made."""
    import copy

    stock = _tiny("llama")
    packed, plain = copy.deepcopy(stock), copy.deepcopy(stock)
    applied = fused_cpu.apply(packed, mlp_dtype="bfloat16")
    if "prepacked_mlp" not in applied:
        pytest.skip("this torch build cannot reorder oneDNN linear weights")
    assert all(w.is_mkldnn for w in packed.model.layers[0].mlp.llmrec_weights)
    monkeypatch.setattr(fused_cpu, "MAX_PACKED_BYTES", 0)
    applied = fused_cpu.apply(plain, mlp_dtype="bfloat16")
    assert "mlp_epilogues" in applied and "prepacked_mlp" not in applied
    assert not any(w.is_mkldnn for w in plain.model.layers[0].mlp.llmrec_weights)
    ids = torch.randint(0, 128, (1, 40), generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        assert torch.equal(packed(input_ids=ids).logits, plain(input_ids=ids).logits)


def test_applying_the_fused_paths_twice_changes_nothing():
    """The q and k rows are reordered once: a second ``apply`` on the same model must not reorder them again."""
    import copy

    stock = _tiny("llama")
    fused = copy.deepcopy(stock)
    fused_cpu.apply(fused)
    fused_cpu.apply(fused)
    ids = torch.randint(0, 128, (1, 20), generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        assert torch.allclose(stock(input_ids=ids).logits, fused(input_ids=ids).logits, atol=1e-4)
