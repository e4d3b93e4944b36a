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


def test_generation_may_copy_the_prompts_words_but_not_loop_on_its_own():
    """A justification copies its reasons' names ("directed by Samir Haddad"): only n-grams of the generated text
    are banned, never the prompt's (transformers' no_repeat_ngram_size counts both)."""
    import torch

    from llmrec.ranking.backends.transformers_backend import NoRepeatInGenerated

    prompt = [5, 6, 7, 5, 6]                       # the prompt already said "5 6 7"
    generated = [1, 2, 3, 1, 2]                     # the model said "1 2 3", and now "1 2" again
    scores = torch.zeros(1, 10)
    out = NoRepeatInGenerated(3, start=len(prompt))(torch.tensor([prompt + generated]), scores)
    assert out[0, 3] == float("-inf")                # "1 2 3" would repeat its own trigram
    assert torch.isfinite(out[0, [0, 1, 2, 4, 5, 6, 7, 8, 9]]).all()
    fresh = NoRepeatInGenerated(3, start=len(prompt))(torch.tensor([prompt + [5, 6]]), torch.zeros(1, 10))
    assert torch.isfinite(fresh).all()              # "5 6 7" again is a copy of the prompt: allowed


def test_a_name_in_the_prompt_is_copied_exactly(llm_backend):
    prompt = llm_backend.chat([{"role": "user", "content": "Repeat exactly: directed by Samir Haddad and Ines "
                                                           "Duarte"}]) + "directed by"
    [text] = llm_backend.complete([prompt], max_new_tokens=8, stop="\n")
    assert text.startswith(" Samir Haddad")
