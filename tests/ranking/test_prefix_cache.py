"""The ranking prompt's static head is computed once and reused; scores equal a full forward pass."""

from __future__ import annotations

import pytest

from llmrec.config import RankerConfig
from llmrec.prompts import default_library, plain_chat
from llmrec.ranking.ranker import LLMRanker
from llmrec.testing.ranking_contract import many_items, prompt_and_letters

TEMPLATES = ["ranking.j2", "ranking_recency.j2", "ranking_icl.j2"]


class _Chat:
    """Only what rendering a prompt needs from a backend."""

    chat = staticmethod(plain_chat)


def full_pass(backend, prompt: str, options: list[str]) -> list[float]:
    """The reference: every token of the prompt run from scratch, no cache, no padding."""
    import torch

    enc = backend.tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        logprobs = torch.log_softmax(backend.model(**enc).logits[0, -1].float(), -1)
    return [logprobs[i].item() for i in backend.option_token_ids(options)]


@pytest.fixture(scope="module")
def ranker(llm_backend):
    return LLMRanker(llm_backend, default_library(), RankerConfig(dtype="float32"))


@pytest.mark.parametrize("template", TEMPLATES)
def test_static_prefix_is_the_same_for_every_request_and_holds_no_request_text(template):
    ranker = LLMRanker(_Chat(), default_library(), RankerConfig(template=template))
    items = many_items(12)
    a, _ = ranker.build_prompt("films about space", items[:4], items[4:])
    b, _ = ranker.build_prompt("", [], items[8:])
    assert a.static_prefix and a.static_prefix == b.static_prefix
    assert a.text.startswith(a.static_prefix) and b.text.startswith(b.static_prefix)
    assert "Reply with the letter" in a.static_prefix  # the instructions are part of the static head
    assert "space" not in a.static_prefix and "Item 4" not in a.static_prefix
    assert "\ue000" not in a.text


def test_scores_with_the_cached_prefix_equal_a_full_pass(ranker, llm_backend):
    prompt, letters = prompt_and_letters(ranker, "a quiet film about trains", 3, 8)
    cached = llm_backend.option_logprobs([prompt.text], letters, prefix=prompt.static_prefix)[0]
    assert prompt.static_prefix in llm_backend._prefixes
    assert cached == pytest.approx(full_pass(llm_backend, prompt.text, letters), abs=1e-4)


@pytest.mark.parametrize("padded", [True, False], ids=["one padded pass", "row by row (the CPU default)"])
def test_a_batch_of_prompts_of_different_lengths_shares_the_prefix_exactly(ranker, llm_backend, padded, monkeypatch):
    monkeypatch.setattr(llm_backend, "pad_batches", padded)
    short, letters = prompt_and_letters(ranker, "", 0, 4)
    long, _ = prompt_and_letters(ranker, "something long about chess, birds and sailing at sea", 5, 4)
    batched = llm_backend.option_logprobs([short.text, long.text], letters, prefix=short.static_prefix)
    assert batched[0] == pytest.approx(full_pass(llm_backend, short.text, letters), abs=1e-4)
    assert batched[1] == pytest.approx(full_pass(llm_backend, long.text, letters), abs=1e-4)


def test_reusing_the_prefix_leaves_it_unchanged(ranker, llm_backend):
    prompt, letters = prompt_and_letters(ranker, "jazz", 2, 5)
    first = llm_backend.option_logprobs([prompt.text], letters, prefix=prompt.static_prefix)
    ids, kv = llm_backend.prefix_state(prompt.static_prefix)
    second = llm_backend.option_logprobs([prompt.text, prompt.text], letters, prefix=prompt.static_prefix)
    assert all(k.shape[0] == 1 and k.shape[-2] == len(ids) for k, _ in kv)  # not grown by the calls
    assert second[0] == pytest.approx(first[0], abs=1e-5) and second[1] == pytest.approx(first[0], abs=1e-5)


def test_a_prefix_declared_once_is_used_for_later_calls_without_one(ranker, llm_backend):
    prompt, letters = prompt_and_letters(ranker, "birds", 1, 3)
    llm_backend.option_logprobs([prompt.text], letters, prefix=prompt.static_prefix)
    calls = []
    original = llm_backend._last_position_after
    llm_backend._last_position_after = lambda *a: calls.append(a) or original(*a)
    try:
        plain = llm_backend.option_logprobs([prompt.text], letters)[0]
    finally:
        del llm_backend._last_position_after
    assert calls and plain == pytest.approx(full_pass(llm_backend, prompt.text, letters), abs=1e-4)


def test_a_prefix_that_tokenizes_differently_inside_the_prompt_falls_back_to_a_full_pass(llm_backend):
    # "Answer: fo" + "o" tokenizes across the boundary ("foo" is not "fo" + "o"), so the prefix's cache is unusable.
    head = llm_backend.chat([{"role": "user", "content": "Pick A or B."}]) + "Answer: fo"
    prompt = head + "o bar. Answer:"
    if llm_backend.tokenizer(prompt, add_special_tokens=False)["input_ids"][:len(
            llm_backend.tokenizer(head, add_special_tokens=False)["input_ids"])] == \
            llm_backend.tokenizer(head, add_special_tokens=False)["input_ids"]:
        pytest.skip("this tokenizer splits the test's boundary cleanly; nothing to fall back from")
    scores = llm_backend.option_logprobs([prompt], [" A", " B"], prefix=head)[0]
    assert scores == pytest.approx(full_pass(llm_backend, prompt, [" A", " B"]), abs=1e-4)
