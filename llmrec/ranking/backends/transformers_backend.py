"""In-process transformers backend: the embedded default (CPU, no server), optional peft LoRA adapter."""

from __future__ import annotations

from pathlib import Path

from llmrec.config import RankerConfig
from llmrec.errors import ModelNotFoundError
from llmrec.llm.registry import model_id, resolve_model
from llmrec.ranking.backends.base import cut_at_stop, register_backend


class TransformersBackend:
    name = "transformers"

    def __init__(self, config: RankerConfig, adapter: Path | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if config.threads:
            torch.set_num_threads(config.threads)
        path = resolve_model(config.model)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.tokenizer.padding_side = "left"  # the last position of every row is the scored/generating one
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = torch.bfloat16 if config.dtype == "bfloat16" else torch.float32
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, local_files_only=True,
                                                     use_safetensors=True)
        self.adapter_id = None
        if adapter is not None:
            from peft import PeftModel

            from llmrec.llm.adapters import check_adapter_base

            if not (Path(adapter) / "adapter_config.json").is_file():
                raise ModelNotFoundError(f"no LoRA adapter (adapter_config.json) in {adapter}")
            check_adapter_base(Path(adapter), model_id(config.model))
            model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
            self.adapter_id = Path(adapter).name
        self.model = model.eval()
        self.model_id = model_id(config.model)
        self._torch = torch

    def chat(self, messages: list[dict]) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        from llmrec.prompts import plain_chat

        return plain_chat(messages)

    def option_token_ids(self, options: list[str]) -> list[int]:
        ids = []
        for o in options:
            tok = self.tokenizer.encode(o, add_special_tokens=False)
            ids.append(tok[0])
        return ids

    def _batch(self, prompts: list[str]):
        return self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)

    def option_logprobs(self, prompts: list[str], options: list[str]) -> list[list[float]]:
        torch = self._torch
        token_ids = torch.tensor(self.option_token_ids(options))
        enc = self._batch(prompts)
        with torch.inference_mode():
            # Only the last position's logits are needed: (B, T, V) would waste memory on long prompts.
            out = self.model(**enc, logits_to_keep=1)
            logprobs = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)  # (B, V)
        return logprobs[:, token_ids].tolist()

    def complete(self, prompts: list[str], max_new_tokens: int, stop: str, seed: int | None = None) -> list[str]:
        torch = self._torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        enc = self._batch(prompts)
        start = enc["input_ids"].shape[1]
        tokenizer = self.tokenizer

        class _AllStopped(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):  # (B, T) → (B,) bool
                texts = tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
                return torch.tensor([cut_at_stop(t, stop)[1] for t in texts])

        kwargs = dict(max_new_tokens=max_new_tokens, stopping_criteria=StoppingCriteriaList([_AllStopped()]),
                      pad_token_id=tokenizer.pad_token_id,
                      no_repeat_ngram_size=3, repetition_penalty=1.2)
        if seed is None:
            kwargs.update(do_sample=False)
        else:
            torch.manual_seed(seed)
            kwargs.update(do_sample=True, temperature=0.7, top_p=0.9)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        texts = tokenizer.batch_decode(out[:, start:], skip_special_tokens=True)
        cuts = [cut_at_stop(t, stop) for t in texts]
        return [text if stopped else text + "\u2026" for text, stopped in cuts]


register_backend("transformers")(TransformersBackend)
