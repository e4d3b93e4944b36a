"""The in-process transformers backend meets the ranking contract with the packaged SmolLM2-135M."""

import pytest

from llmrec.testing.ranking_contract import RankingBackendContract


class TestTransformersBackend(RankingBackendContract):
    @pytest.fixture
    def backend(self, llm_backend):
        return llm_backend


def test_letter_scores_match_a_full_forward_pass(llm_backend):
    """logits_to_keep=1 is an optimisation; it must give the same numbers as the full logits."""
    import torch

    prompt = llm_backend.chat([{"role": "user", "content": "Pick A or B."}]) + "Answer:"
    fast = llm_backend.option_logprobs([prompt], [" A", " B"])[0]
    enc = llm_backend.tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        full = torch.log_softmax(llm_backend.model(**enc).logits[0, -1].float(), -1)
    ids = llm_backend.option_token_ids([" A", " B"])
    assert fast == pytest.approx([full[ids[0]].item(), full[ids[1]].item()], abs=1e-4)


def test_a_cpu_scores_a_batch_row_by_row_so_no_prompt_pays_for_the_longest(llm_backend):
    assert llm_backend.model.device.type == "cpu" and not llm_backend.pad_batches


@pytest.mark.parametrize("padded", [True, False], ids=["one padded pass", "row by row (the CPU default)"])
def test_batched_prompts_score_like_single_prompts(llm_backend, padded, monkeypatch):
    """Left padding must not change a prompt's scores."""
    monkeypatch.setattr(llm_backend, "pad_batches", padded)
    short = llm_backend.chat([{"role": "user", "content": "A or B?"}]) + "Answer:"
    long = llm_backend.chat([{"role": "user", "content": "A long question with many words, A or B?"}]) + "Answer:"
    batched = llm_backend.option_logprobs([short, long], [" A", " B"])
    alone = [llm_backend.option_logprobs([p], [" A", " B"])[0] for p in (short, long)]
    assert batched[0] == pytest.approx(alone[0], abs=2e-3) and batched[1] == pytest.approx(alone[1], abs=2e-3)
