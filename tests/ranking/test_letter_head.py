"""The cheaper output head of a ranking pass: the letters in float32, the normaliser from a bfloat16 copy made exact
near the top, so the letters' order is float32's and their log-probabilities move by one small shared shift."""

from __future__ import annotations

import pytest
import torch

from llmrec.config import RankerConfig
from llmrec.prompts import default_library
from llmrec.ranking import letter_head
from llmrec.ranking.ranker import LLMRanker
from llmrec.testing.ranking_contract import prompt_and_letters


@pytest.fixture(scope="module")
def head_backend():
    from llmrec.ranking.backends import open_backend

    return open_backend(RankerConfig(dtype="float32", attention_dtype="float32", mlp_dtype="float32",
                                     normaliser_dtype="bfloat16"))


@pytest.mark.parametrize("prefix", ["static head", "full pass"])
def test_letters_keep_float32_s_order_and_move_by_one_tiny_shared_shift(llm_backend, head_backend, prefix):
    assert "bfloat16_normaliser" in head_backend.fused_ops and "bfloat16_normaliser" not in llm_backend.fused_ops
    ranker = LLMRanker(llm_backend, default_library(), RankerConfig(dtype="float32"))
    for query, history, n in [("a quiet film about trains", 3, 8), ("", 0, 20), ("jazz for a rainy night", 6, 12)]:
        prompt, letters = prompt_and_letters(ranker, query, history, n)
        use = prompt.static_prefix if prefix == "static head" else ""
        cheap = head_backend.option_logprobs([prompt.text], letters, prefix=use)[0]
        exact = llm_backend.option_logprobs([prompt.text], letters, prefix=use)[0]
        shifts = [a - b for a, b in zip(cheap, exact)]
        assert max(map(abs, shifts)) < 2e-3  # the normaliser's error (bfloat16 alone: up to ~2e-2)
        assert max(shifts) - min(shifts) < 1e-4  # the same for every letter: only float rounding differs
        assert sorted(range(n), key=lambda i: -cheap[i]) == sorted(range(n), key=lambda i: -exact[i])


def test_padded_rows_are_each_read_at_their_own_last_token(llm_backend, head_backend, monkeypatch):
    monkeypatch.setattr(head_backend, "pad_batches", True)
    ranker = LLMRanker(llm_backend, default_library(), RankerConfig(dtype="float32"))
    prompts = [prompt_and_letters(ranker, q, h, 6)[0].text for q, h in [("a film about the sea", 2), ("", 5)]]
    letters = [f" {chr(65 + i)}" for i in range(6)]
    for use in (None, ""):
        batched = head_backend.option_logprobs(prompts, letters, prefix=use)
        alone = [llm_backend.option_logprobs([p], letters, prefix=use)[0] for p in prompts]
        for row, reference in zip(batched, alone):
            assert row == pytest.approx(reference, abs=2e-3)


def test_a_flat_distribution_takes_the_whole_float32_head():
    """Where thousands of logits sit near the top, gathering their rows would cost more than the full head: the row
    is computed in float32, and the result is the exact log-softmax."""
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(6000, 32, generator=generator) * 0.01
    hidden = torch.randn(2, 32, generator=generator)
    ids = torch.tensor([3, 70, 5999])
    got = letter_head.LetterHead(weight).logprobs(hidden, ids)
    expected = torch.log_softmax(hidden @ weight.t(), dim=-1)[:, ids]
    assert torch.allclose(got, expected, atol=1e-5)


def test_a_peaked_distribution_recomputes_the_top_and_the_letters_in_float32():
    generator = torch.Generator().manual_seed(1)
    weight = torch.randn(20000, 64, generator=generator)
    hidden = torch.randn(1, 64, generator=generator) * 3  # logits spread over ~50 nats, as a real model's are
    ids = torch.tensor([0, 11, 12345])
    exact = torch.log_softmax(hidden @ weight.t(), dim=-1)[:, ids]
    got = letter_head.LetterHead(weight).logprobs(hidden, ids)
    bfloat16_only = torch.log_softmax((hidden.bfloat16() @ weight.bfloat16().t()).float(), dim=-1)[:, ids]
    assert float((got - exact).abs().max()) < 1e-3 < float((bfloat16_only - exact).abs().max())


def test_only_plain_float32_heads_of_known_causal_lms_get_one(monkeypatch):
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, vocab_size=64))
    assert letter_head.fits(model)
    monkeypatch.setattr(letter_head, "MAX_COPY_BYTES", 64 * 32 * 2 - 1)
    assert not letter_head.fits(model)  # the copy would exceed its memory cap
    monkeypatch.undo()
    model.lm_head.bias = torch.nn.Parameter(torch.zeros(64))
    assert not letter_head.fits(model)
    assert not letter_head.fits(model.model)  # a decoder without a head
