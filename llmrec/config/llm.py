"""Settings of the LLM stages: ranking, justifications, fine-tuning and the audit."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from llmrec.config.base import RUNTIME_ONLY, _Section
from llmrec.llm.profiles import profile_defaults


class RankerConfig(_Section):
    """The LLM that orders candidates from letter logprobs in one forward pass."""

    profile: Literal["fast", "quality", "gpu"] | None = None  # fills model, dtype, backend (llmrec.llm.profiles)
    backend: str = Field("transformers", description="registered ranking backend name (transformers, vllm)")
    model: str = Field("smollm2-135m", description="named model (llmrec models) or a local model folder")
    template: str = Field("ranking.j2", description="ranking prompt in prompts/ (ranking*.j2): ranking.j2 (plain "
                          "history), ranking_recency.j2 (newest first, weighs recent items most) or ranking_icl.j2 "
                          "(one worked example from the user's own earlier interactions first)")
    adapter: str | None = Field(None, description="LoRA adapter name under adapters/ or a folder path")
    # float32 by default: a cheaper dtype must rank like float32 (top-1 >= 95%, Spearman >= 0.95 on 50 prompts,
    # tests/ranking/test_dtype.py) before it may be the default, and with SmolLM2-135M neither bfloat16 nor int8 did.
    dtype: Literal["auto", "float32", "bfloat16", "int8"] = Field(
        "float32", description="weights and activations of the transformers backend: auto = bfloat16 where a start-up "
        "matmul probe of this machine finds it faster than float32 (cached per machine), else float32; int8 = "
        "dynamic int8 quantization of the decoder's Linear layers (llmrec.ranking.dtype_probe, "
        "eval/ranking_speed.py). Every recommendation records the dtype that ranked it")
    seed: int = 0
    # The untuned 135M model ranks 20 options barely above random (DESIGN.md: NDCG@10 0.274 vs 0.227) and is
    # strongly position-biased, so by default the retriever's order weighs as much as a confident LLM; a trained
    # adapter should run with a lower weight (its manifest records the one it was validated with).
    retrieval_prior: float = Field(3.0, ge=0, description="weight of the retriever's order as a log-prior on "
                                   "the LLM's scores; 0 = pure LLM order (LlamaRec)")
    history_in_prompt: int = Field(10, ge=0, le=50, description="most recent history items shown")
    card_chars_in_prompt: int = Field(100, ge=20, le=2000, description="characters of card text per option, before "
                                      "option_tokens cuts it further")
    # Prompt tokens are what a ranking pass costs (about 2 × non-embedding weights FLOPs per token), so the prompt's
    # variable parts are bounded in tokens of the ranking model's own tokenizer. 16:60 by measurement
    # (eval/results/ranking-speed.md, 120 ml-latest-small users, sampled-20): NDCG@10 0.2186 against 0.2185 without
    # budgets, 634 prompt tokens instead of 718; on the demo's requests the p95 prompt went from 1,245 tokens to 816.
    option_tokens: int | None = Field(16, ge=4, le=512, description="most tokens of catalog text per option "
                                      "(title and card summary; the title is kept whole, the summary cut to fit); "
                                      "None = card_chars_in_prompt alone")
    history_tokens: int | None = Field(60, ge=0, le=4096, description="most tokens of history titles in the "
                                       "prompt, newest items kept first; None = history_in_prompt alone")
    history_facts_tokens: int = Field(0, ge=0, le=64, description="tokens of card facts (year, genres, ...) shown "
                                      "after each history title, cut like an option's; 0 = titles alone")
    collab_evidence: bool = Field(True, description="give each option its collaborative evidence level (how "
                                  "strongly people with similar histories favour it, relative to the other "
                                  "options) when the user has one; adapters are trained with it")
    # On the 50-prompt bar (tests/ranking/test_dtype.py) bfloat16 attention kept float32's top letter in 49 of 50
    # (Spearman 0.999; 59 of 60 demo and ml-latest-small prompts) and made the pass 9% faster on this AMX CPU. On an
    # AMD EPYC with avx512_bf16 it made the pass no faster (0.805 s against 0.809): hence a probe of its own. The
    # attention is now blocked batched matmuls with float32 scores (fused_cpu.offset_causal_attention): bfloat16
    # keeps 48 of 50 on the bar, and auto takes it only where it runs 1.5x faster (a later EPYC: 1.2x, so float32).
    attention_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="attention (softmax(QK^T)V) of a float32 model on a CPU with fused_cpu_ops; projections, "
        "norms, the residual stream and the attention scores stay float32. auto = bfloat16 where the start-up probe "
        "finds the attention itself 1.5x faster in bfloat16 (not only matmuls: on some CPUs it runs no faster), "
        "else float32. The recorded dtype says so: \"float32 (bfloat16 attention)\"")
    # Same bar, same rule (tests/ranking/test_dtype.py): with bfloat16 attention as well, float32's top letter in 49
    # of 50 bar prompts (Spearman 0.997). Sampled-20, 120 ml-latest-small users (eval/results/ranking-speed-mlp.md):
    # top-1 agreement 97.5%, NDCG@10 0.2183 against 0.2186 (paired -0.0003 ± 0.0003), pass 1.83x faster than
    # float32 (bfloat16 attention alone: 1.08x). The MLP holds 3/4 of a layer's weights.
    mlp_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="feed-forward block (gate/up/down projections and SiLU) of a float32 model on a CPU with "
        "fused_cpu_ops; attention projections, norms, the residual stream and the logits stay float32. auto = "
        "bfloat16 where the start-up matmul probe finds bfloat16 faster than float32, else float32. The recorded "
        "dtype says so: \"float32 (bfloat16 attention and MLP)\"")
    # The head's matvec streams its whole (vocabulary × hidden) matrix once per pass for the softmax's normaliser:
    # 9.8 ms of a 150 ms demo pass for SmolLM2-135M on an AMD EPYC with avx512_bf16, 3.2 ms from a bfloat16 copy.
    normaliser_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="the log-softmax normaliser of a ranking pass (transformers backend, float32 model, "
        "fused_cpu_ops): bfloat16 = from a bfloat16 copy of the output head, with the option letters and every "
        "logit near the top recomputed in float32 (normaliser within ~1e-3 of float32's, the same for every letter, "
        "so the letters' order is float32's; llmrec.ranking.letter_head). auto = bfloat16 where the start-up "
        "matmul probe finds bfloat16 faster than float32, else float32")
    # Runtime-only: the fused paths compute the same scores (|Δ logprob| < 1e-4, tests/ranking/test_fused_cpu.py).
    fused_cpu_ops: bool = Field(True, description="transformers backend on a CPU: fused decoder layers (one q/k/v "
                                "matmul, RoPE as one complex multiply, one attention call after a cached prefix), "
                                "one-kernel RMSNorm, in-place MLP activation (llmrec.ranking.fused_cpu)",
                                json_schema_extra=RUNTIME_ONLY)
    threads: int | None = Field(None, ge=1, description="torch threads; default: all cores",
                                json_schema_extra=RUNTIME_ONLY)
    vllm_url: str | None = Field(None, json_schema_extra=RUNTIME_ONLY)
    vllm_timeout_s: float = Field(60.0, gt=0, json_schema_extra=RUNTIME_ONLY)
    # Runtime-only: it decides what happens while the configured backend is down, and the record's `backend` names
    # the one that actually ranked ("transformers (fallback from vllm)").
    fallback_backend: str | None = Field(None, description="backend used when this one is unavailable",
                                         json_schema_extra=RUNTIME_ONLY)

    _profile = model_validator(mode="before")(profile_defaults)
    @field_validator("template")
    @classmethod
    def _template_exists(cls, v: str) -> str:
        # A bare file name, so a config cannot point the ranker at arbitrary files; ranking*.j2 so it cannot pick a
        # card or justification template whose variables the ranker does not provide.
        from llmrec.prompts import prompts_dir

        folder = prompts_dir()
        available = sorted(p.name for p in folder.glob("ranking*.j2"))
        if "/" in v or "\\" in v or not (v.startswith("ranking") and v.endswith(".j2")) or v not in available:
            raise ValueError(f"unknown ranking template {v!r}; choose one of {', '.join(available)} "
                             f"(files in {folder})")
        return v


class JustificationConfig(_Section):
    """Short, grounded justifications for the returned items, written from their reasons (``llmrec.explain``)."""

    # Off by default for latency: on the 2-core CPU the LLM's sentences cost 2.2 s p50 per request of three items
    # with SmolLM2-135M, 4.0 s with Qwen2.5-Coder-0.5B (eval/results/model-table.md; 10 and 12 of 12 passed the
    # checks once the decoder let them copy their reasons, none before), while the template states the same
    # reasons in milliseconds. Turn it on for a larger model or a GPU backend.
    enabled: bool = Field(False, description="the LLM writes each sentence from the chosen reasons (the template "
                          "sentence when it fails the checks); false: the template alone, no LLM")
    max_new_tokens: int = Field(40, ge=8, le=200, description="tokens after the title the frame opens with; 40 "
                                "holds the request's words and two reasons (at 32, sentences echoing a long "
                                "request were cut off)")
    retries: int = Field(1, ge=0, le=3)
    min_support: float = Field(0.6, ge=0, le=1, description="share of a sentence's content words that must appear "
                               "in the card, history or request; below it the sentence is rejected")
    max_reasons: int = Field(2, ge=1, le=3, description="reasons a justification states (the best by relevance)")
    batch: int | None = Field(None, ge=1, description="items justified per model call; default: all k in one. "
                              "Smaller batches stream the first justifications sooner and let other requests' "
                              "rankings run between them, at more total time", json_schema_extra=RUNTIME_ONLY)


class TrainConfig(_Section):
    """LoRA fine-tuning of the ranker on interaction logs (``llmrec train``)."""

    lora_r: int = Field(8, ge=1, le=256)
    lora_alpha: int = Field(16, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    lora_layers: int | None = Field(None, ge=1, description="LoRA in the last N transformer layers only (None = all): "
                                    "backward then stops there, about 2x faster on CPU with N = 8 of 30")
    quantize_4bit: bool = Field(False, description="QLoRA (bitsandbytes 4-bit base); CUDA only")
    # Measured on the 2-core dev CPU (no AMX): SmolLM2-135M trained at 34 s per example in bfloat16 vs 2.15 s in
    # float32, so bfloat16 is for fitting a larger base in memory, not for speed there; on a GPU it is the usual choice.
    dtype: Literal["float32", "bfloat16"] = Field("float32", description="dtype of the frozen base model's weights; "
                                                  "the LoRA weights, optimiser state and loss stay float32")
    learning_rate: float = Field(2e-4, gt=0)
    # An adapter trained on the letters alone learns first what the prompt's evidence levels already say (the
    # collaborative order) and is then fused with that order again at serving time; trained on the fused scores, its
    # gradient goes to what the retriever's order misses.
    retrieval_prior: float = Field(0.0, ge=0, description="train the adapter as a residual over the retriever's "
                                   "order: the loss and validation score each option by its letter logprob plus "
                                   "-w·log(1 + its place in the retrieved list), as the ranker serves it at "
                                   "ranker.retrieval_prior = w (serve it with that w); 0 = the letters alone")
    epochs: int = Field(1, ge=1)
    grad_accum: int = Field(8, ge=1, description="examples per optimiser step")
    examples_per_user: int = Field(4, ge=1, description="most recent cut points per user used for training")
    max_train_examples: int | None = Field(None, ge=1)
    validation_users: int = Field(64, ge=1, description="users whose held-out item validates each evaluation")
    eval_every: int = Field(50, ge=1, description="optimiser steps between validations")
    checkpoint_every: int = Field(25, ge=1, description="optimiser steps between resumable checkpoints")
    patience: int = Field(3, ge=1, description="validations without improvement before stopping early")
    seed: int = 0


class AuditConfig(_Section):
    """How explanations are audited (``llmrec audit``)."""

    judge: bool = Field(True, description="ask the LLM judge about claims the rules and word overlap cannot decide")
    judge_threshold: float = Field(0.8, gt=0, lt=1, description="calibrated probability of 'not supported' above "
                                   "which the judge labels a claim unsupported/contradicted")
    judge_batch_size: int = Field(8, ge=1, le=64, json_schema_extra=RUNTIME_ONLY)
    support_overlap: float = Field(0.5, ge=0, le=1, description="share of a claim's content words found in the "
                                   "card/history at which word overlap alone counts it supported")
    faithfulness: bool = Field(True, description="re-rank without each cited history item (stored records only)")
