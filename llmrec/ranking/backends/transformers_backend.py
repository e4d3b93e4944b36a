"""In-process transformers backend: the embedded default (CPU, no server), optional peft LoRA adapter.

Speed, because ranking one request is one prefill of about a thousand tokens on a CPU:

- **dtype** (``ranker.dtype``, float32 by default: on 50 prompts neither bfloat16 nor int8 kept float32's top
  letter in 95% of them, the bar for a default): ``auto`` takes bfloat16 only where this machine's matmul probe finds
  it faster than float32 (``dtype_probe``); ``int8`` quantizes the decoder's Linear layers dynamically (weights
  int8, activations quantized per call; the embeddings and the output head stay float32). ``dtype`` says which one
  is loaded, and every recommendation records it. ``auto`` never picks int8: on three sampled-20 prompts (2026-12,
  AMD EPYC with avx512_bf16, heavily loaded) it was 1.7× faster than float32 but its top letter agreed with
  float32's on none and the letter scores' Spearman was 0.64 (bfloat16: 1.5× faster, 2 of 3, 0.998);
  ``eval/ranking_speed.py`` measures it.
- **Fused CPU paths** (``ranker.fused_cpu_ops``, on by default): fused decoder layers (q, k and v in one matmul,
  RoPE as one complex multiply, one attention call after a cached prefix, residual adds in the matmuls), one-kernel
  RMSNorm and in-place MLP activation (``llmrec.ranking.fused_cpu``); same scores.
  Where bfloat16 is faster (the matmul probe for the MLP, a probe of the attention kernel itself for attention), a
  float32 model's attention and MLP run in bfloat16 (``ranker.attention_dtype``, ``ranker.mlp_dtype``) while norms,
  the residual stream and the logits stay float32: the bar a whole-model bfloat16 misses, these pass.
- **Letter head** (``ranker.normaliser_dtype``, ``auto`` with the MLP's probe): a ranking pass reads the decoder's
  last hidden state and scores the letters in float32, the log-softmax normaliser coming from a bfloat16 copy of the
  output head made exact near its top (``llmrec.ranking.letter_head``): the head's fixed 9.8 ms a pass becomes ~4 ms
  on an AMD EPYC with avx512_bf16, the letters' order stays float32's, their log-probabilities move by < 1e-3.
- **Prefix cache**: the static head of a prompt (system text and instructions, ``RenderedPrompt.static_prefix``) is
  run once per prefix and its keys/values reused, so each request pays only for its own tokens. Scores equal a full
  pass (``tests/ranking/test_prefix_cache.py``); a prompt whose tokens do not begin with the prefix's exact tokens
  gets a full pass instead.
"""

from __future__ import annotations

import inspect
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

from llmrec.config import RankerConfig
from llmrec.errors import ModelNotFoundError
from llmrec.llm.registry import model_id, resolve_model
from llmrec.ranking.backends.base import cut_at_stop, register_backend

# Distinct static prefixes kept (one per ranking template in use, plus the judge's and chooser's if they declare one).
MAX_PREFIXES = 8


def resolve_dtype(setting: str, attention: bool = False) -> str:
    """The dtype a ``ranker.dtype``, ``attention_dtype`` or ``mlp_dtype`` setting means on this machine (``auto``:
    bfloat16 where the probe finds its matmuls faster, else float32; for ``attention``, where it finds the attention
    kernel faster)."""
    if setting != "auto":
        return setting
    from llmrec.ranking.dtype_probe import fastest_dtype

    verdict = fastest_dtype()
    return verdict.attention_dtype if attention else verdict.dtype


def mixed_dtype_name(fused_ops: list[str]) -> str:
    """The recorded dtype of a float32 model with cheaper parts: "float32 (bfloat16 attention and MLP)", ..."""
    parts = [part for op, part in (("bfloat16_attention", "attention"), ("bfloat16_mlp", "MLP")) if op in fused_ops]
    return f"float32 (bfloat16 {' and '.join(parts)})" if parts else "float32"


def quantize_int8(model):
    """Dynamic int8 quantization of the decoder blocks' Linear layers, in place; the head keeps float32 logits."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice: the API still works and needs no torchao
        torch.ao.quantization.quantize_dynamic(model.get_decoder(), {torch.nn.Linear}, dtype=torch.qint8,
                                               inplace=True)
    return model


class NoRepeatInGenerated:
    """Bans a token that would repeat an ``n``-gram of the text generated so far (positions from ``start``): a
    loop breaker that, unlike transformers' ``no_repeat_ngram_size``, leaves the prompt's n-grams free to copy."""

    def __init__(self, n: int, start: int):
        self.n, self.start = n, start

    def __call__(self, input_ids, scores):
        n = self.n
        for row, ids in enumerate(input_ids[:, self.start:].tolist()):
            if len(ids) < n:
                continue
            tail = ids[len(ids) - n + 1:]
            banned = [ids[i + n - 1] for i in range(len(ids) - n + 1) if ids[i:i + n - 1] == tail]
            if banned:
                scores[row, banned] = float("-inf")
        return scores


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
        self.dtype = resolve_dtype(config.dtype)
        load_dtype = torch.bfloat16 if self.dtype == "bfloat16" else torch.float32
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=load_dtype, local_files_only=True,
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
            if self.dtype == "int8":
                # Quantized layers cannot carry LoRA; merged weights compute the same function.
                model = model.merge_and_unload()
        if self.dtype == "int8":
            model = quantize_int8(model)
        self.model = model.eval()
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.fused_ops: list[str] = []
        if config.fused_cpu_ops and self.model.device.type == "cpu":
            from llmrec.ranking import fused_cpu

            float32 = self.dtype == "float32"
            attention = resolve_dtype(config.attention_dtype, attention=True) if float32 else "float32"
            self.fused_ops = fused_cpu.apply(base, attention_dtype=attention,
                                             mlp_dtype=resolve_dtype(config.mlp_dtype) if float32 else "float32")
            if float32:
                self.dtype = mixed_dtype_name(self.fused_ops)
        # Ranking passes read the decoder's last hidden states and score them with a cheaper head (letter_head).
        self.head = None
        if self.fused_ops and self.dtype.startswith("float32") and resolve_dtype(config.normaliser_dtype) == "bfloat16":
            from llmrec.ranking import letter_head

            if letter_head.fits(base):
                self.head = letter_head.LetterHead(base.lm_head.weight)
                self.fused_ops = sorted([*self.fused_ops, "bfloat16_normaliser"])
        # Several prompts in one call: one padded pass on an accelerator, one pass each on a CPU (option_logprobs).
        self.pad_batches = self.model.device.type != "cpu"
        self.model_id = model_id(config.model)
        self._torch = torch
        self._decoder = base.model if self.head is not None else None
        # transformers 5.2x calls the key/value cache argument `cache`, earlier versions `past_key_values`.
        self._cache_arg = "cache" if "cache" in inspect.signature(type(base).forward).parameters \
            else "past_key_values"
        self._prefixes: OrderedDict[str, tuple[list[int], list[tuple]]] = OrderedDict()
        self._prefix_lock = threading.Lock()

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

    def option_logprobs(self, prompts: list[str], options: list[str], prefix: str | None = None
                        ) -> list[list[float]]:
        """``prefix``: static text every prompt starts with, whose keys/values are computed once and reused; None: a
        prefix declared by an earlier call is used when every prompt starts with it; "": a full pass."""
        torch = self._torch
        if len(prompts) > 1 and not self.pad_batches:
            # A CPU gains nothing from batching prefills (a single prompt's hundreds of tokens already fill its
            # matmuls) and loses to padding every row to the longest: four prompts of 226 to 1,101 tokens took 2.1x
            # longer as one padded pass than one by one. Row by row, each pays for its own tokens.
            return [row for q in prompts for row in self.option_logprobs([q], options, prefix)]
        token_ids = torch.tensor(self.option_token_ids(options))
        if prefix is None:
            with self._prefix_lock:
                known = list(reversed(self._prefixes))
            prefix = next((p for p in known if all(q.startswith(p) for q in prompts)), None)
        elif not all(q.startswith(prefix) for q in prompts):
            prefix = None
        last = self._last_position_after(prefix, prompts) if prefix else None
        if last is None:
            last = self._last_position(None, **self._batch(prompts))
        if self.head is not None:
            return self.head.logprobs(last, token_ids).tolist()
        logprobs = torch.log_softmax(last.float(), dim=-1)  # (B, V)
        return logprobs[:, token_ids].tolist()

    def _last_position(self, last, **inputs):
        """One forward pass, read at each row's last token (``last``: (B, 1) positions; None: the final one, as
        left padding has it): (B, H) hidden states where ``self.head`` scores them, else (B, V) logits."""
        torch = self._torch
        with torch.inference_mode():
            if self.head is None:
                # Only the last position's logits are needed: (B, T, V) would waste memory on long prompts.
                out = self.model(**inputs, logits_to_keep=1 if last is None else last)
                return out.logits[:, -1 if last is None else 0, :]
            hidden = self._decoder(**inputs).last_hidden_state  # (B, T, H), final norm applied
            return hidden[:, -1] if last is None else hidden[torch.arange(hidden.shape[0]), last[:, 0]]

    def prefix_state(self, prefix: str) -> tuple[list[int], list[tuple]]:
        """The token ids of ``prefix`` and its per-layer (keys, values), computed on first use (thread-safe)."""
        torch = self._torch
        with self._prefix_lock:
            if prefix in self._prefixes:
                self._prefixes.move_to_end(prefix)
                return self._prefixes[prefix]
            ids = self.tokenizer(prefix, add_special_tokens=False)["input_ids"]
            with torch.inference_mode():
                out = self.model(input_ids=torch.tensor([ids]), use_cache=True, logits_to_keep=1)
            cache = getattr(out, "cache", None) or out.past_key_values
            state = (ids, [(layer.keys, layer.values) for layer in cache.layers])
            self._prefixes[prefix] = state
            while len(self._prefixes) > MAX_PREFIXES:
                self._prefixes.popitem(last=False)
            return state

    def _last_position_after(self, prefix: str, prompts: list[str]):
        """``_last_position`` of each prompt, running only what follows ``prefix``; None when a prompt's tokens do
        not start with the prefix's own tokens (BPE merged across the boundary) or nothing follows it."""
        torch = self._torch
        from transformers import DynamicCache

        ids, kv = self.prefix_state(prefix)
        p = len(ids)
        full = self.tokenizer(prompts, add_special_tokens=False)["input_ids"]
        if any(row[:p] != ids or len(row) == p for row in full):
            return None
        tails = [row[p:] for row in full]
        b, width = len(tails), max(len(t) for t in tails)
        # Right padding: every real token keeps the position it has in the full prompt, so the cached prefix lines
        # up exactly; each row is read at its own last real token.
        input_ids = torch.full((b, width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((b, p + width), dtype=torch.long)
        mask[:, :p] = 1
        for i, t in enumerate(tails):
            input_ids[i, :len(t)] = torch.tensor(t)
            mask[i, p:p + len(t)] = 1
        last = torch.tensor([[len(t) - 1] for t in tails])  # (B, 1)
        # A fresh cache per call: the forward pass appends to it, and concurrent requests share the stored prefix.
        cache = DynamicCache(ddp_cache_data=[(k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)) for k, v in kv])
        return self._last_position(last, input_ids=input_ids, attention_mask=mask, use_cache=True,
                                   **{self._cache_arg: cache})

    def complete(self, prompts: list[str], max_new_tokens: int, stop: str, seed: int | None = None) -> list[str]:
        torch = self._torch
        from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

        enc = self._batch(prompts)
        start = enc["input_ids"].shape[1]
        tokenizer = self.tokenizer

        class _AllStopped(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):  # (B, T) → (B,) bool
                texts = tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
                return torch.tensor([cut_at_stop(t, stop)[1] for t in texts])

        # No penalty on what the prompt says: transformers' repetition_penalty and no_repeat_ngram_size count the
        # prompt's tokens too, and a justification must copy its reasons' names and values exactly (with them on,
        # "directed by Samir Haddad" came out as "SamIR Hadda" and was refused). Loops are cut in the new text only.
        kwargs = dict(max_new_tokens=max_new_tokens, stopping_criteria=StoppingCriteriaList([_AllStopped()]),
                      pad_token_id=tokenizer.pad_token_id,
                      logits_processor=LogitsProcessorList([NoRepeatInGenerated(3, start)]))
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
