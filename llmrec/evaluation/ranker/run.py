"""Run the ranker protocol: re-rank the SASRec retriever's top-20 on the LlamaRec split, base model vs an adapter.

Writes ``<out>/ml-latest-small-llamarec-ranker.{json,md}``. Run by ``llmrec eval --ranker/--train-ranker`` and by
``python eval/ranker_protocol.py``; the protocol is described in ``llmrec.evaluation.ranker``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from llmrec.config import LLMRecConfig, RankerConfig, SequentialConfig
from llmrec.evaluation.candidates import CatalogItems, ModelCandidates, evidence_ranks, top_candidates
from llmrec.evaluation.metrics import (ndcg_at_k, paired_difference, per_user_ndcg, random_order_ndcg,
                                      ranking_metrics, target_ranks)
from llmrec.evaluation.options import RESULTS, dataset_path
from llmrec.evaluation.protocols import SequenceDataset, build_dataset, sample_candidates
from llmrec.evaluation.provenance import command_line, versions, write_report
from llmrec.evaluation.ranker.report import ANCHORS, markdown
from llmrec.evaluation.ranker.scoring import (best_prior, evidence_only_ranks, fused_ranks, llm_logprobs,
                                              table_row)
from llmrec.retrieval.protocol import full_ranking_ranks
from llmrec.training.examples import RankingExample, build_examples, examples_hash, make_example, training_cuts

DATASET = "ml-latest-small"
N_CANDIDATES = 20
NEGATIVES = 19
KS = (1, 5, 10)
# One pass; LoRA in the last 8 of 30 layers (half the CPU time per example of all layers); validation every 160
# examples. Chosen for the 60-minute budget on 2 cores, not tuned.
TRAINING = {"learning_rate": 1e-3, "grad_accum": 4, "epochs": 1, "eval_every": 40, "checkpoint_every": 20,
            "patience": 3, "lora_layers": 8}
VERSIONED = ("torch", "transformers", "peft", "numpy")
RETRIEVER = SequentialConfig(architecture="sasrec", dropout=0.3)  # as the LlamaRec protocol's sasrec row


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    from llmrec.evaluation import ranker

    p = argparse.ArgumentParser(prog="eval/ranker_protocol.py", description=ranker.__doc__.split("\n\n")[0])
    what = p.add_mutually_exclusive_group()
    what.add_argument("--train", type=Path, metavar="OUT", help="fine-tune an adapter into OUT first, then evaluate it")
    what.add_argument("--adapter", help="evaluate this adapter (name under adapters/ or a folder) beside the base")
    p.add_argument("--resume", action="store_true", help="with --train: continue an interrupted training run")
    p.add_argument("--force", action="store_true", help="with --train: replace an adapter already in OUT")
    p.add_argument("--data", type=Path, help="ml-latest-small folder; default $LLMREC_DATA/ml-latest-small or "
                                             "../shared/data/ml-latest-small")
    p.add_argument("--model", default="smollm2-135m", help="base model (packaged name or folder)")
    p.add_argument("--examples-per-user", type=int, default=4, help="training cut points per user (--train)")
    p.add_argument("--max-train-examples", type=int, default=1000,
                   help="cap on training examples (--train): 1000 fits the 60-minute budget here (0 = all)")
    p.add_argument("--learning-rate", type=float, default=TRAINING["learning_rate"],
                   help="LoRA learning rate (--train); 1e-3 suits SmolLM2-135M, at which Qwen2.5-0.5B's loss "
                        "collapsed to uniform (ln 20) and its validation NDCG@10 fell below the base model's")
    p.add_argument("--valid-users", type=int, default=48, help="validation users (target in the top-20)")
    p.add_argument("--test-users", type=int, help="only the first N test users whose target is in the top-20")
    p.add_argument("--sampled-users", type=int, default=150, help="users in the sampled-20 comparison (0 = skip)")
    p.add_argument("--retriever", choices=("sasrec", "ease"), default="sasrec",
                   help="whose top-20 is re-ranked: SASRec (the protocol's; fitting it takes 10–25 min here, cached) "
                        "or EASE (seconds; then its order is also the collaborative evidence's)")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                   help="the ranker's weights and activations (bfloat16 is faster only on CPUs with AVX-512 bf16)")
    p.add_argument("--history-facts", type=int, default=0, metavar="TOKENS",
                   help="tokens of card facts (year, genres) shown after each history title (RankerConfig."
                        "history_facts_tokens); 0 = titles alone")
    p.add_argument("--folds", type=int, default=0, metavar="K",
                   help="--train with --retriever ease: each training user's candidates and evidence come from an "
                        "EASE fitted without that user's fold (K folds), and only cuts whose next item is in that "
                        "top-20 train, as on the re-ranked test users. 0 = the retriever fitted on every user, "
                        "whose in-sample top-20 holds the next item 3x as often as on held-out users")
    p.add_argument("--train-prior", type=float, default=0.0, metavar="W",
                   help="--train: train the adapter as a residual over the retriever's order, on its letter logprobs "
                        "plus -W·log(1 + list place) (train.retrieval_prior); W joins the validated weights. "
                        "0 = on the letters alone")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: eval/results)")
    p.add_argument("--cache", type=Path, help="where the fitted retriever is kept; default $LLMREC_CACHE/eval")
    args = p.parse_args(argv)
    if args.folds and (args.retriever != "ease" or args.train is None):
        p.error("--folds refits EASE per fold for the training examples: it needs --train and --retriever ease")
    if args.train_prior and args.train is None:
        p.error("--train-prior sets how an adapter is trained: it needs --train")
    if args.train_prior < 0:
        p.error("--train-prior must be 0 or more")
    if args.folds == 1 or args.folds < 0:
        p.error("--folds needs at least 2 folds (or 0 for none)")
    return args


def training_examples(retriever, evidence_model, data: SequenceDataset, items: CatalogItems, ranker, per_user: int,
                      folds: int = 0, seed: int = 0, record: dict | None = None) -> list[RankingExample]:
    """Cut points inside each user's training sequence (never the validation or test item): (history before, next
    item) with the retriever's top-20, through the one example builder ``llmrec train`` uses.

    With ``folds``, the retriever (EASE, the evidence model too) is refitted K times, each time without one fold of
    users, and scores that fold's cuts: the lists and evidence a held-out user gets. Fitted on everyone, EASE has
    seen each cut's next item in the user's own row (ml-latest-small: the next item in its top-20 for 67% of cuts
    against 22% out of fold and 19% on validation), so the adapter learns to trust evidence that is better than any
    it will see. Only cuts whose next item the fold's top-20 holds are kept, as only those are re-ranked at test;
    ``record`` gets how many cuts there were and how many of them each way of scoring puts in its top-20."""
    ids = data.item_ids
    by_user = [training_cuts(data.user_ids[u], [ids[c] for c in seq], per_user) for u, seq in enumerate(data.train)]
    if not folds:
        return build_examples(ranker, items, ModelCandidates(retriever, evidence_model, ids),
                              [cut for cuts in by_user for cut in cuts], N_CANDIDATES)
    from llmrec.retrieval.ease import EASERecommender
    from llmrec.retrieval.protocol import TrainingData

    fold = np.random.default_rng(seed).permutation(len(by_user)) % folds
    if record is not None:
        cuts = [cut for cuts in by_user for cut in cuts]
        found = ModelCandidates(retriever, None, ids).candidates([c.history for c in cuts], N_CANDIDATES)
        record.update(cuts=len(cuts), in_sample_hits=sum(c.target in row for c, row in zip(cuts, found)))
    out = []
    for f in range(folds):
        model = EASERecommender().fit(TrainingData.of(ids, [s for u, s in enumerate(data.train) if fold[u] != f]),
                                      evidence_model.config)
        source = ModelCandidates(model, model, ids)
        out += build_examples(ranker, items, source, [cut for u in np.flatnonzero(fold == f) for cut in by_user[u]],
                              N_CANDIDATES, hits_only=True)
    if record is not None:
        record["out_of_fold_hits"] = len(out)
    return out


def main(argv: Sequence[str], program: str = "python eval/ranker_protocol.py") -> int:
    """Run the protocol as ``argv`` asks; ``program`` is how the report names the command that ran it."""
    args = parse_args(argv)
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    import torch

    from llmrec.catalog.movielens import read_movielens
    from llmrec.evaluation.llamarec.methods import ease_model
    from llmrec.evaluation.retriever_cache import fitted_sasrec
    from llmrec.prompts import default_library
    from llmrec.ranking.backends import open_backend
    from llmrec.ranking.ranker import LLMRanker

    torch.set_num_threads(args.threads)
    path = dataset_path(DATASET, args.data)
    adapter_given = None
    if args.adapter:  # a typo fails now, not after fitting the retriever
        from llmrec.llm.adapters import resolve_adapter

        adapter_given = resolve_adapter(args.adapter)
    catalog, interactions = read_movielens(path)
    data = build_dataset(interactions, tie_break="item")
    items, ids = CatalogItems(catalog), data.item_ids
    print(f"{DATASET}: {data.stats['users']} users, {data.stats['items']} items after 5-core", file=sys.stderr)
    retriever_config = RETRIEVER.model_copy(update={"seed": args.seed})
    t0 = time.perf_counter()
    ease = ease_model(data, {})  # the options' collaborative evidence: λ and decay chosen on validation
    if args.retriever == "ease":
        retriever, cached, retriever_name = ease, False, "EASE"
    else:
        retriever, cached = fitted_sasrec(data, retriever_config, args.cache,
                                          log=lambda s: print(s, file=sys.stderr))
        retriever_name = "SASRec"
    retriever_seconds = time.perf_counter() - t0

    # Validation lists: the retriever's top-20 for the training sequence; keep users whose validation item is in it.
    valid_hist, valid_targets = data.inputs("valid")
    valid_top = top_candidates(retriever, valid_hist, N_CANDIDATES)
    valid_hit = [j for j in range(len(valid_targets)) if valid_targets[j] in valid_top[j]]
    rng = np.random.default_rng(args.seed)
    valid_rows = sorted(rng.permutation(valid_hit)[: args.valid_users].tolist())
    valid_cols = np.array([int(np.flatnonzero(valid_top[j] == valid_targets[j])[0]) for j in valid_rows])
    valid_ev = evidence_ranks(ease, ids, [valid_hist[j] for j in valid_rows], valid_top[valid_rows])

    base_cfg = RankerConfig(model=args.model, dtype=args.dtype, retrieval_prior=0.0, seed=args.seed,
                            threads=args.threads, history_facts_tokens=args.history_facts)
    library = default_library()
    adapter_path, training = None, None
    if args.train is not None:
        from llmrec.training.run import ChatFormatter
        from llmrec.training.trainer import AdapterTrainer

        formatter_ranker = LLMRanker(ChatFormatter(args.model), library, base_cfg)
        t1 = time.perf_counter()
        cut_record: dict = {}
        train = training_examples(retriever, ease, data, items, formatter_ranker, args.examples_per_user,
                                  args.folds, args.seed, cut_record)
        order = np.random.default_rng(args.seed).permutation(len(train))  # a cap keeps a spread over users
        if args.max_train_examples:
            train = [train[i] for i in sorted(order[: args.max_train_examples])]
        valid = [make_example(formatter_ranker, items, data.user_ids[data.eval_rows[j]],
                              [ids[c] for c in valid_hist[j]], [ids[c] for c in valid_top[j]],
                              ids[int(valid_targets[j])], "valid", ev) for j, ev in zip(valid_rows, valid_ev)]
        config = LLMRecConfig()
        config.ranker = base_cfg.model_copy()
        # The frozen base in the dtype it ranks in: bfloat16 on a CPU with bf16 matmuls trains ~4× faster than float32.
        config.train = config.train.model_copy(update={**TRAINING, "seed": args.seed, "dtype": args.dtype,
                                                            "learning_rate": args.learning_rate,
                                                            "retrieval_prior": args.train_prior})
        print(f"training on {len(train)} examples, validating on {len(valid)}", file=sys.stderr)
        trainer = AdapterTrainer(config, args.model, args.train, progress=_progress, log=lambda s: print(
            s, file=sys.stderr, flush=True), overwrite=args.force)
        provenance = {"dataset": DATASET, "protocol": "LlamaRec (5-core, leave-one-out, ties by item id)",
                      "retriever": f"{retriever_name} " + json.dumps(
                          (ease.config if args.retriever == "ease" else retriever_config).model_dump()),
                      "collaborative_evidence": "EASE " + json.dumps(ease.config.model_dump()),
                      "data_fingerprint": data.fingerprint(), "examples_per_user": args.examples_per_user,
                      "command": command_line(program, argv)}
        manifest = trainer.train(train, valid, examples_hash(train + valid), resume=args.resume,
                                 training_data=provenance)
        training = {"seconds": round(time.perf_counter() - t1, 1), "train_examples": len(train),
                    "folds": args.folds, "prior": args.train_prior, "examples_per_user": args.examples_per_user,
                    "cuts": cut_record,
                    "valid_examples": len(valid), "metrics": manifest["metrics"], "out": str(args.train),
                    "hyperparameters": config.train.model_dump(mode="json")}
        adapter_path = Path(args.train)
    elif args.adapter:
        adapter_path = adapter_given

    rankers = {"base": LLMRanker(open_backend(base_cfg), library, base_cfg)}
    if adapter_path is not None:
        rankers["adapter"] = LLMRanker(open_backend(base_cfg, adapter=adapter_path), library, base_cfg)

    # Pick each model's retrieval-prior weight on validation.
    valid_lp = {name: llm_logprobs(r, items, ids, [valid_hist[j] for j in valid_rows], valid_top[valid_rows],
                                   valid_ev, f"valid/{name}") for name, r in rankers.items()}
    priors = {name: best_prior(lp, valid_cols, [args.train_prior] if args.train_prior else [])
              for name, lp in valid_lp.items()}
    retriever_valid = ndcg_at_k(valid_cols, 10)

    # Test: full ranking by the retriever, then re-rank the top-20 where the target is in it.
    test_hist, test_targets = data.inputs("test")
    retr_ranks = full_ranking_ranks(retriever, test_hist, test_targets, users=data.eval_rows.tolist())
    test_top = top_candidates(retriever, test_hist, N_CANDIDATES)
    hit = np.array([j for j in range(len(test_targets)) if test_targets[j] in test_top[j]], dtype=np.int64)
    if args.test_users:
        hit = hit[: args.test_users]
    # The target's column in the list the LLM sees (the full-ranking rank counts ties against the target, the
    # list breaks them by position; they differ only on an exact score tie).
    hit_cols = np.array([int(np.flatnonzero(test_top[j] == test_targets[j])[0]) for j in hit], dtype=np.int64)
    test_ev = evidence_ranks(ease, ids, [test_hist[j] for j in hit], test_top[hit])
    test_lp = {name: llm_logprobs(r, items, ids, [test_hist[j] for j in hit], test_top[hit], test_ev,
                                  f"test/{name}") for name, r in rankers.items()}
    rows: dict[str, dict] = {f"retriever ({retriever_name} order)": table_row(retr_ranks, hit, hit_cols, None)}
    for label, levels in (("evidence alone: EASE order, no LLM", False),
                          ("evidence levels as shown, ties by retriever, no LLM", True)):
        rows[label] = table_row(retr_ranks, hit, evidence_only_ranks(test_ev, ids, test_top[hit], hit_cols, levels),
                                None)
    inside: dict[str, np.ndarray] = {"retriever": hit_cols}
    for name in rankers:
        for label, w in (("LLM alone, w = 0", 0.0), (f"w = {priors[name][0]:g} (validated)", priors[name][0])):
            new = fused_ranks(test_lp[name], hit_cols, w)
            rows[f"{name} ranker, {label}"] = table_row(retr_ranks, hit, new, w)
            inside[f"{name}@{w:g}"] = new

    comparisons = {}
    if "adapter" in rankers:
        wa, wb = priors["adapter"][0], priors["base"][0]
        ndcg = {key: per_user_ndcg(ranks, 10) for key, ranks in inside.items()}
        comparisons = {
            "adapter(w*) - retriever": paired_difference(ndcg[f"adapter@{wa:g}"], ndcg["retriever"]),
            "adapter(0) - base(0)": paired_difference(ndcg["adapter@0"], ndcg["base@0"]),
            "adapter(w*) - base(w*)": paired_difference(ndcg[f"adapter@{wa:g}"], ndcg[f"base@{wb:g}"]),
            "adapter(w*) - EASE order, no LLM": paired_difference(
                ndcg[f"adapter@{wa:g}"],
                per_user_ndcg(evidence_only_ranks(test_ev, ids, test_top[hit], hit_cols, False), 10)),
        }

    sampled = {}
    if args.sampled_users:
        cands = sample_candidates(data, "test", negatives=NEGATIVES, seed=args.seed)[: args.sampled_users]
        perm = np.random.default_rng(args.seed + 1).permuted(np.tile(np.arange(cands.shape[1]), (len(cands), 1)),
                                                              axis=1)
        lists = np.take_along_axis(cands, perm, axis=1)  # shuffled: the target's column is where 0 went
        cols = np.argmin(perm, axis=1)
        sampled_ev = evidence_ranks(ease, ids, test_hist[: len(lists)], lists)
        for name, r in rankers.items():
            lp = llm_logprobs(r, items, ids, test_hist[: len(lists)], lists, sampled_ev, f"sampled/{name}")
            ranks = target_ranks(lp, cols)
            metrics = ranking_metrics(ranks, KS)
            sampled[name] = {**{f"NDCG@{k}": round(metrics[f"NDCG@{k}"], 4) for k in KS},
                             "NDCG@10_se": round(float(per_user_ndcg(ranks, 10).std(ddof=1) / math.sqrt(len(ranks))),
                                                 4),
                             "ranks": ranks.tolist()}
        sampled["random (exact)"] = {f"NDCG@{k}": round(random_order_ndcg(k, 1 + NEGATIVES), 4) for k in KS}

    report = {
        "dataset": DATASET, "data": str(path), "command": command_line(program, argv), "seed": args.seed,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "threads": args.threads, "load_average_at_start": load_at_start,
                    "load_average_at_end": round(os.getloadavg()[0], 2)},
        "versions": versions(VERSIONED), "counts": data.stats,
        "retriever": {"name": retriever_name, "loaded_from_cache": cached,
                      "config": (ease.config if args.retriever == "ease" else retriever_config).model_dump(),
                      "seconds": round(retriever_seconds, 1), "metrics": retriever.metrics},
        "collaborative_evidence": {"model": "EASE", "config": ease.config.model_dump(),
                                   "valid_NDCG@10": round(ease.metrics["valid_NDCG@10"], 4)},
        "ranker": base_cfg.model_dump(mode="json"), "adapter": str(adapter_path) if adapter_path else None,
        "training": training,
        "validation": {"users": len(valid_rows), "retriever_NDCG@10": round(retriever_valid, 4),
                       "prior_curves": {n: c for n, (_, c) in priors.items()},
                       "chosen_prior": {n: w for n, (w, _) in priors.items()}},
        "test": {"users": int(len(test_targets)), "users_target_in_top20": int(len(hit)), "rows": rows,
                 "paired_NDCG@10_inside": comparisons},
        "sampled20": sampled, "anchors": ANCHORS,
    }
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_report(args.out / f"{DATASET}-llamarec-ranker", report, markdown)
    return 0


def _progress(iterable, total, desc):
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, mininterval=5)
