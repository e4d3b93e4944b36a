"""Settings of finding candidates: fused retrieval, request understanding and the collaborative model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from llmrec.config.base import _Section


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
