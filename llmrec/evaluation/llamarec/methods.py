"""The LlamaRec protocol's methods: how each row of the table is fitted, reused within a run and evaluated.

Every method is a retrieval model fitted with ``fit(data, config)`` on the protocol's training split
(``SequenceDataset.training_data``; validation drives early stopping and selection) and scored by the same full
ranking. Fitted models are kept in ``fitted`` (keyed by tie variant and name) so the combinations reuse them; the
sequential models are also cached on disk for the ranker protocol (``llmrec.evaluation.retriever_cache``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from llmrec.config import SequentialConfig
from llmrec.errors import ConfigError
from llmrec.evaluation.protocols import (LLAMAREC_MASKED, SequenceDataset, evaluate_full_ranking,
                                         evaluate_sampled)
from llmrec.retrieval.baselines import BPRConfig, BPRRecommender, PopularityRecommender
from llmrec.retrieval.protocol import masked_scores
from llmrec.retrieval.sequential import SequentialRecommender

# The default run is what a workspace serves (the lru+sasrec pair fused with EASE) beside its parts and the
# baselines. The pair's members are scored inside the pair (its mix set to one member), so SASRec and LRU get rows
# without being trained twice; that keeps the whole harness, both tie rules, under 30 minutes on 2 CPUs.
PAIR_MEMBERS = {"lru+sasrec/lru": 0, "lru+sasrec/sasrec": 1}  # index into the pair's mix: (LRU, SASRec)
SERVED = "served"  # the candidate list a workspace's retriever returns a known user: collaborative ⊕ history text
METHODS = ("popularity", "bpr", "ease", "lru+sasrec", *PAIR_MEMBERS, "lru+sasrec+ease", "text", "image", "fusion",
           SERVED)
# Not in the default run: SASRec and LRU fitted separately, each with its own early stopping, and their fitted
# logits summed (`--methods sasrec,lru,sasrec+lru`; earlier reports, eval/README.md).
OPTIONAL_METHODS = ("sasrec", "lru", "sasrec+lru")
CONTENT_METHODS = ("text", "image", "fusion", SERVED)  # need item text / posters: MovieLens datasets only
FULL_KS = (1, 5, 10, 20, 50)
TABLE_COLUMNS = ("MRR@5", "NDCG@5", "Recall@5", "MRR@10", "NDCG@10", "Recall@10", "Recall@20", "Recall@50")

# Tuned on ml-latest-small validation NDCG@10 (eval/README.md); each trains in under 10 minutes on 2 CPU threads.
# LRURec's dropout is its published 0.2; both keep their architecture explicit so a change of default changes
# neither row.
# The pair stops 5 epochs after its best, as a workspace does (CollaborativeConfig.patience): both seeds recorded
# in eval/README.md peaked at epochs 15 and 19 of 40, so it selects the same epoch as with 10 and trains less.
SEQUENTIALS = {"sasrec": SequentialConfig(architecture="sasrec", dropout=0.3),
               "lru": SequentialConfig(architecture="lru", dropout=0.2),
               "lru+sasrec": SequentialConfig(architecture="lru+sasrec", dropout=0.2, patience=5)}
COMBINED = ("sasrec", "lru")  # the separately fitted models sasrec+lru combines
FUSED = ("lru+sasrec", "ease")  # the collaborative blocks of lru+sasrec+ease and of the multimodal fusion
SEQUENTIAL = SEQUENTIALS["sasrec"]  # the retriever eval/ranker_protocol.py re-ranks
BPR = BPRConfig()


def capped(config, epochs: int | None):
    return config if epochs is None else config.model_copy(update={"epochs": min(epochs, config.epochs)})


class Content:
    """Item vectors for the content baselines, aligned with the dataset's item codes; computed once per run.

    Text: the sentence-transformer embedding of each item's card (title, year, genres, tags), cached on disk by the
    hash of the texts. Image: ``visual_vector`` of the poster, zeros where an item has none.
    """

    def __init__(self, catalog, posters: Path | None):
        self.by_id = {item.id: item for item in catalog}
        self.posters = posters
        self.text: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self.image_coverage = 0.0
        # Cache each fitted sequential model for eval/ranker_protocol.py and later runs (ml-latest-small).
        self.keep_for_ranker = False

    def text_vectors(self, item_ids: list[str]) -> np.ndarray:
        if self.text is None:
            from llmrec.catalog.cards import render_card
            from llmrec.llm.cache import cache_dir
            from llmrec.retrieval.embedder import TextEmbedder

            texts = [render_card(self.by_id[i], [], []) for i in item_ids]
            embedder = TextEmbedder()
            key = hashlib.sha256(json.dumps([embedder.name, texts]).encode()).hexdigest()[:16]
            path = cache_dir() / "eval" / f"text-{key}.npy"
            if path.is_file():
                self.text = np.load(path, allow_pickle=False)
            else:
                print(f"  embedding {len(texts):,} item cards with {embedder.name}", flush=True)
                self.text = embedder.encode(texts, progress=True)
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, self.text, allow_pickle=False)
        return self.text

    def image_vectors(self, item_ids: list[str]) -> np.ndarray:
        if self.image is None:
            from llmrec.errors import MediaError
            from llmrec.media.image import load_image, visual_vector

            if self.posters is None:
                raise ConfigError("the image and fusion methods need posters: pass --posters DIR (<movieId>.jpg)")
            out, found = np.zeros((len(item_ids), 96), dtype=np.float32), 0
            for row, item in enumerate(item_ids):
                path = self.posters / f"{item}.jpg"
                if path.is_file():
                    try:
                        out[row] = visual_vector(load_image(path, max_pixels=4_000_000))
                        found += 1
                    except MediaError:
                        pass  # a corrupt poster is an item without an image
            self.image, self.image_coverage = out, found / len(item_ids)
            print(f"  posters for {found:,} of {len(item_ids):,} items", flush=True)
        return self.image


class PairMember:
    """One member (LRU or SASRec) of a fitted ``lru+sasrec`` pair, scored alone (``only_member``). The member was
    trained on its own loss; only its epoch was chosen by the pair's mixed validation score."""

    def __init__(self, pair: SequentialRecommender, index: int):
        self.pair, self.index = pair, index

    def user_vectors(self, histories, users=None) -> np.ndarray:
        with self.pair.only_member(self.index):
            return self.pair.user_vectors(histories, users)

    def item_vectors(self) -> np.ndarray:
        with self.pair.only_member(self.index):
            return self.pair.item_vectors()


class ServedCandidates:
    """What ``CandidateRetriever.retrieve`` returns a known user with no request: the collaborative model's list and
    the history-text list (recency-weighted card profile), each ``fetch`` long, fused by weighted reciprocal rank
    with the served ``[retrieval]`` settings. Items on neither list rank below every listed one.

    The collaborative rows of the table score that model alone; this row measures the fusion a workspace adds.
    """

    def __init__(self, collab, text, config=None):
        from llmrec.config import RetrievalConfig

        self.collab, self.text = collab, text
        self.config = config or RetrievalConfig()
        self.fetch = self.config.n_candidates * self.config.fetch_multiplier

    def _top(self, model, histories, users) -> np.ndarray:
        scores = masked_scores(model, histories, users)  # served: the whole history is excluded from every list
        return np.argsort(-scores, axis=1, kind="stable")[:, : self.fetch]

    def fused_scores(self, histories, users=None) -> np.ndarray:
        from llmrec.retrieval.retriever import reciprocal_rank_fusion

        c = self.config
        collab, text = self._top(self.collab, histories, users), self._top(self.text, histories, users)
        out = np.full((len(histories), self.text.n_items), -1.0)
        for row in range(len(histories)):
            lists = {"collab": [str(i) for i in collab[row]], "history": [str(i) for i in text[row]]}
            fused = reciprocal_rank_fusion(lists, {"collab": c.collab_weight, "history": 1.0}, c.rrf_k)
            for candidate in fused:  # every item is in the model's vocabulary here, so no coverage division
                out[row, int(candidate.id)] = candidate.score
        return out


def served_collab(data: SequenceDataset, seed: int, epochs: int | None, fitted: dict, refit: bool = False):
    """``lru+sasrec+ease`` as the table's row has it (weights fitted on validation; refitted blocks with ``refit``)."""
    from llmrec.retrieval.fusion import FusionRecommender

    key = (data.tie_break, "lru+sasrec+ease")
    if key not in fitted:
        fitted[key] = FusionRecommender(fused_blocks(data, seed, epochs, fitted)).fit(data.training_data())
        fitted[(*key, "search")] = fitted[key].search
    if not refit:
        return fitted[key]
    held_out = fitted[key]
    return FusionRecommender(fused_blocks(data, seed, epochs, fitted, refit=True), weights=held_out.weights,
                             scales=held_out.scales)


def fused_blocks(data: SequenceDataset, seed: int, epochs: int | None, fitted: dict, refit: bool = False) -> dict:
    """The collaborative blocks fusions combine (the pair and EASE), held out or refitted; reused within a run."""
    if refit:
        return {n: refitted(n, data, seed, epochs, fitted) for n in FUSED}
    return {n: ease_model(data, fitted) if n == "ease" else sequential_model(n, data, seed, epochs, fitted)
            for n in FUSED}


def sequential_model(name: str, data: SequenceDataset, seed: int, epochs: int | None,
                     fitted: dict | None = None):
    """The ``name`` model (sasrec, lru) on ``data``: fitted earlier in this run, else from the cache, else fit now."""
    fitted = {} if fitted is None else fitted
    key = (data.tie_break, name)
    if key not in fitted:
        from llmrec.evaluation.retriever_cache import fitted_sasrec

        fitted[key], _ = fitted_sasrec(data, capped(SEQUENTIALS[name], epochs).model_copy(update={"seed": seed}))
    return fitted[key]


def ease_model(data: SequenceDataset, fitted: dict):
    """EASE fitted on the training sequences, its (λ, decay) chosen on validation; reused within a run."""
    key = (data.tie_break, "ease")
    if key not in fitted:
        from llmrec.retrieval.ease import EASERecommender

        fitted[key] = EASERecommender().fit(data.training_data())  # λ and decay chosen on the holdout
    return fitted[key]


def refitted(name: str, data: SequenceDataset, seed: int, epochs: int | None, fitted: dict):
    """The ``name`` model (a sequential architecture or ease) retrained on training + validation items with the
    settings its held-out run validated; reused within a run."""
    key = (data.tie_break, name, "refit")
    if key not in fitted:
        if name == "ease":
            from llmrec.retrieval.ease import EASERecommender

            fitted[key] = EASERecommender().fit(data.training_data(refit=True), ease_model(data, fitted).config)
        else:
            fitted[key] = sequential_model(name, data, seed, epochs, fitted).refit(data.training_data(refit=True),
                                                                                   progress=True)
    return fitted[key]


def timed(build):
    """``build()``, and the refit record saying how long it took."""
    t0 = time.perf_counter()
    built = build()
    return built, {"seconds": round(time.perf_counter() - t0, 2)}


def run_method(method: str, data: SequenceDataset, seed: int, epochs: int | None,
               content: Content | None = None, fitted: dict | None = None, refit: bool = False) -> dict:
    """Fit one model on the training sequences (validation early stopping) and evaluate it every way.

    ``fitted`` maps (tie variant, sasrec|lru) to the sequential models fitted so far in this run, which the
    sasrec+lru and fusion methods combine. With ``refit``, a sequential model is retrained on the training and
    validation items for its validated epoch count and that refit is tested; validation metrics, the models the
    combinations use and the one cached for the ranker stay the held-out run's.
    """
    fitted = {} if fitted is None else fitted
    t0 = time.perf_counter()
    fusion_search = None
    refit_record = None
    if method in CONTENT_METHODS and content is None:
        raise ConfigError(f"method {method} needs item text (a MovieLens dataset); drop it with --methods")
    if method == "text":
        from llmrec.retrieval.fusion import ProfileRecommender

        model, config = ProfileRecommender(content.text_vectors(data.item_ids)), None
    elif method == "image":
        from llmrec.retrieval.fusion import ProfileRecommender

        model, config = ProfileRecommender(content.image_vectors(data.item_ids)), None
    elif method == "fusion":
        from llmrec.retrieval.fusion import FusionRecommender, ProfileRecommender

        blocks = {"text": ProfileRecommender(content.text_vectors(data.item_ids))}
        if content.posters is not None:
            blocks["image"] = ProfileRecommender(content.image_vectors(data.item_ids))
        model, config = FusionRecommender({**blocks, **fused_blocks(data, seed, epochs, fitted)}), None
        fusion_search = model.fit(data.training_data()).search
        if refit:  # the content blocks have nothing to refit; the collaborative ones are refitted
            served, refit_record = timed(lambda: FusionRecommender(
                {**blocks, **fused_blocks(data, seed, epochs, fitted, refit=True)},
                weights=model.weights, scales=model.scales))
    elif method == "popularity":
        model, config = PopularityRecommender().fit(data.training_data()), None
    elif method == "ease":
        model = ease_model(data, fitted)
        config = model.config
        if refit:
            served, refit_record = timed(lambda: refitted("ease", data, seed, epochs, fitted))
    elif method == "lru+sasrec+ease":
        # The served sequential pair fused with EASE: concatenated vectors (still one dot product per item), the
        # weights fitted on validation; a refit fuses the two refitted members with those same weights and scales.
        model, config = served_collab(data, seed, epochs, fitted), None
        fusion_search = fitted[(data.tie_break, "lru+sasrec+ease", "search")]
        if refit:
            served, refit_record = timed(lambda: served_collab(data, seed, epochs, fitted, refit=True))
    elif method == SERVED:
        from llmrec.config import RetrievalConfig
        from llmrec.retrieval.fusion import ProfileConfig, ProfileRecommender

        text = ProfileRecommender(content.text_vectors(data.item_ids)).fit(
            data.training_data(), ProfileConfig(window=RetrievalConfig().history_items))
        model, config = ServedCandidates(served_collab(data, seed, epochs, fitted), text), None
        if refit:
            served, refit_record = timed(lambda: ServedCandidates(
                served_collab(data, seed, epochs, fitted, refit=True), text))
    elif method in PAIR_MEMBERS:
        pair = sequential_model("lru+sasrec", data, seed, epochs, fitted)
        model, config = PairMember(pair, PAIR_MEMBERS[method]), None
        if refit:
            served, refit_record = timed(lambda: PairMember(refitted("lru+sasrec", data, seed, epochs, fitted),
                                                            PAIR_MEMBERS[method]))
    elif method == "bpr":
        config = capped(BPR, epochs).model_copy(update={"seed": seed})
        model = BPRRecommender().fit(data.training_data(), config, progress=True)
    elif method in SEQUENTIALS:
        config = capped(SEQUENTIALS[method], epochs).model_copy(update={"seed": seed})
        model = SequentialRecommender().fit(data.training_data(), config, progress=True)
        fitted[(data.tie_break, method)] = model
        if content is not None and content.keep_for_ranker:  # the ranker protocol and later runs reuse it
            from llmrec.evaluation.retriever_cache import keep

            keep(model, data, config)
        if refit and model.metrics.get("best_epoch"):
            served, timing = timed(lambda: model.refit(data.training_data(refit=True), progress=True))
            fitted[(data.tie_break, method, "refit")] = served
            refit_record = {"epochs": int(model.metrics["best_epoch"]), **timing}
    elif method == "sasrec+lru":
        # The two collaborative models as one: concatenated vectors, so the score is a weighted sum of their
        # logits, weights fitted on validation; still one dot product per item, as the vector store serves it.
        from llmrec.retrieval.fusion import FusionRecommender

        model, config = FusionRecommender({n: sequential_model(n, data, seed, epochs, fitted)
                                           for n in COMBINED}), None
        fusion_search = model.fit(data.training_data()).search
    else:
        raise ConfigError(f"unknown method {method!r}; choose from {', '.join(METHODS + OPTIONAL_METHODS)}")
    train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    valid = evaluate_full_ranking(model, data, "valid", ks=FULL_KS)
    tested = served if refit_record else model  # the refit saw the validation items: test only
    test = evaluate_full_ranking(tested, data, "test", ks=FULL_KS)
    test_llamarec_mask = evaluate_full_ranking(tested, data, "test", ks=FULL_KS, mask_last=LLAMAREC_MASKED)
    sampled = evaluate_sampled(tested, data, "test", negatives=19, seed=seed, ks=(1, 5, 10))
    result = {
        "config": config.model_dump() if config is not None else None,
        "train_seconds": round(train_seconds, 2),
        "load_average_after_training": round(os.getloadavg()[0], 2),
        "eval_seconds": round(time.perf_counter() - t0, 2),
        "training": getattr(model, "metrics", {}),
        "epochs": getattr(model, "history", []),
        "valid": valid.metrics,
        "test": test.metrics,
        "test_llamarec_mask": test_llamarec_mask.metrics,
        "test_recall_curve": test.curve,
        "test_sampled20": sampled.metrics,
    }
    if fusion_search is not None:
        result["fusion"] = fusion_search
    if refit_record is not None:
        refit_record["test_without_refit"] = evaluate_full_ranking(model, data, "test", ks=FULL_KS).metrics
        refit_record["test_without_refit_llamarec_mask"] = evaluate_full_ranking(
            model, data, "test", ks=FULL_KS, mask_last=LLAMAREC_MASKED).metrics
        result["refit"] = refit_record
    print(f"  {method:<10} train {train_seconds:7.1f} s  test " + "  ".join(
        f"{k} {test.metrics[k]:.4f}" for k in ("MRR@10", "NDCG@10", "Recall@10", "Recall@20", "Recall@50")))
    return result


