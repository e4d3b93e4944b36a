"""The LLM ranker on the LlamaRec protocol: re-rank the SASRec retriever's top-20, base model vs a LoRA adapter.

    nice -n 5 python eval/ranker_protocol.py [--train adapters/NAME | --adapter adapters/NAME] [--data PATH]
                                             [--valid-users 48] [--sampled-users 150] [--seed 0] [--out eval/results]

Protocol (LlamaRec's, DESIGN.md "Protocols"): ml-latest-small, 5-core, leave-one-out with ties by item id. The
retriever is llmrec's SASRec fitted on the training sequences with validation early stopping (the same model and
config as ``eval/llamarec_protocol.py``; cached on disk, see ``eval/_retriever_cache.py``). For each test user the
ranker re-orders the retriever's top-20 (history masked); users whose target is outside the top-20 keep the
retriever's rank, so the full-ranking metrics of every ranker row are directly comparable with the retriever row.

``--train OUT`` first fine-tunes a LoRA adapter with llmrec's trainer (the one ``llmrec train`` runs) on examples
built from the same split, so nothing of the test split is seen:

- training examples: for each user, the last ``--examples-per-user`` cut points of the *training* sequence (never the
  validation or test item); candidates are the retriever's top-20 for the history before the cut (hard negatives, the
  lists the ranker will face), the true next item swapped in when the retriever missed it;
- validation: the validation item of ``--valid-users`` users whose validation target is in the retriever's top-20
  (the case the ranker can change); it drives early stopping and picks the retrieval-prior weight.

Collaborative evidence: each option carries the level at which a second collaborative model, EASE (fitted on the
training sequences, its λ and decay chosen on validation, as in ``eval/llamarec_protocol.py``), favours it against
the other options (``llmrec.ranking.ranker.evidence_levels``; a workspace shows its own collaborative model's rank
the same way). The letters are shuffled, so a ranker can only use it by reading it. Two rows with no LLM at all show
what the evidence alone is worth: EASE's own order inside the top-20, and the levels the prompt shows with ties in
the retriever's order.

Scores: a candidate's score is its letter log-probability plus ``-w·log(1 + retriever rank)`` (the served ranker's
``retrieval_prior``). Every model is reported at ``w = 0`` (the LLM alone, LlamaRec's setting) and at the weight that
maximised its validation NDCG@10 on the grid ``PRIOR_GRID``. Sampled-20 (target + 19 never-seen negatives, shuffled)
is reported at ``w = 0``. Ties count against the target everywhere.

Writes ``<out>/<dataset>-llamarec-ranker.{json,md}``; ``llmrec eval --ranker/--train-ranker`` runs this script.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(REPO / "eval"))

import numpy as np  # noqa: E402

from _retriever_cache import fitted_sasrec  # noqa: E402
from llmrec.catalog.cards import render_card  # noqa: E402
from llmrec.config import LLMRecConfig, RankerConfig, SequentialConfig  # noqa: E402
from llmrec.evaluation.metrics import (paired_difference, per_user_ndcg, random_order_ndcg,  # noqa: E402
                                      ranking_metrics, target_ranks)
from llmrec.evaluation.protocols import (SequenceDataset, build_dataset, full_ranking_ranks,  # noqa: E402
                                         masked_scores, sample_candidates)
from llmrec.training.examples import RankingExample, examples_hash  # noqa: E402
from llmrec.ranking.ranker import evidence_levels  # noqa: E402
from llmrec.workspace import StoredItem  # noqa: E402

DATASET = "ml-latest-small"
N_CANDIDATES = 20
NEGATIVES = 19
PRIOR_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
KS = (1, 5, 10)
FULL_KS = (5, 10, 20)
ANCHORS = {  # LlamaRec Table 1 (ml-latest-small), M/N/R@10, as recorded in DESIGN.md
    "LlamaRec (Llama-2-7B QLoRA, published)": {"MRR@10": .0529, "NDCG@10": .0759, "Recall@10": .1524},
    "LRURec (published)": {"MRR@10": .0491, "NDCG@10": .0705, "Recall@10": .1426},
    "SASRec (published)": {"MRR@10": .0378, "NDCG@10": .0522, "Recall@10": .0993},
}
# One pass; LoRA in the last 8 of 30 layers (half the CPU time per example of all layers); validation every 160
# examples. Chosen for the 60-minute budget on 2 cores, not tuned.
TRAINING = {"learning_rate": 1e-3, "grad_accum": 4, "epochs": 1, "eval_every": 40, "checkpoint_every": 20,
            "patience": 3, "lora_layers": 8}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group()
    what.add_argument("--train", type=Path, metavar="OUT", help="fine-tune an adapter into OUT first, then evaluate it")
    what.add_argument("--adapter", help="evaluate this adapter (name under adapters/ or a folder) beside the base")
    p.add_argument("--resume", action="store_true", help="with --train: continue an interrupted training run")
    p.add_argument("--force", action="store_true", help="with --train: replace an adapter already in OUT")
    p.add_argument("--data", type=Path, help="ml-latest-small folder; default ../shared/data/ml-latest-small")
    p.add_argument("--model", default="smollm2-135m", help="base model (packaged name or folder)")
    p.add_argument("--examples-per-user", type=int, default=4, help="training cut points per user (--train)")
    p.add_argument("--max-train-examples", type=int, default=1000,
                   help="cap on training examples (--train): 1000 fits the 60-minute budget here (0 = all)")
    p.add_argument("--valid-users", type=int, default=48, help="validation users (target in the top-20)")
    p.add_argument("--test-users", type=int, help="only the first N test users whose target is in the top-20")
    p.add_argument("--sampled-users", type=int, default=150, help="users in the sampled-20 comparison (0 = skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--out", type=Path, default=REPO / "eval" / "results")
    p.add_argument("--cache", type=Path, help="where the fitted retriever is kept; default $LLMREC_CACHE/eval")
    return p.parse_args(argv)


# ---- data ---------------------------------------------------------------------------------------------------------

class Items:
    """Item code → the StoredItem the ranker renders (a MovieLens card: title, year, genres, tags)."""

    def __init__(self, catalog, data: SequenceDataset):
        self.by_id = {item.id: item for item in catalog}
        self.data = data
        self.cache: dict[int, StoredItem] = {}

    def __call__(self, code: int) -> StoredItem:
        code = int(code)
        if code not in self.cache:
            cat = self.by_id[self.data.item_ids[code]]
            self.cache[code] = StoredItem(id=cat.id, title=cat.title, item=cat, card=render_card(cat, [], []),
                                          card_hash="", embedded_hash=None, media=[])
        return self.cache[code]


def top_candidates(model, histories: list[list[int]], n: int = N_CANDIDATES, batch: int = 512) -> np.ndarray:
    """(U, n) the retriever's best n item codes per history, best first, history masked."""
    out = []
    for start in range(0, len(histories), batch):
        scores = masked_scores(model, histories[start:start + batch])
        out.append(np.argsort(-scores, axis=1, kind="stable")[:, :n])
    return np.concatenate(out) if out else np.zeros((0, n), dtype=np.int64)


def fitted_ease(data: SequenceDataset):
    """EASE on the training sequences, (λ, decay) chosen on validation: the options' collaborative evidence."""
    from llmrec.retrieval.ease import EASERecommender

    histories, targets = data.inputs("valid")
    model = EASERecommender(data.n_items).fit(data.train)
    model.select(histories, targets)
    return model


def evidence_ranks(model, items: Items, histories: list[list[int]], lists: np.ndarray, batch: int = 512
                   ) -> list[dict[str, int]]:
    """Per list: item id -> 1-based rank of that candidate among the list by ``model``'s score for the history."""
    out = []
    for start in range(0, len(histories), batch):
        chunk = np.asarray(lists[start:start + batch])
        scores = np.take_along_axis(masked_scores(model, histories[start:start + batch]), chunk, axis=1)
        for codes, row in zip(chunk, scores):
            ranks = np.empty(len(codes), dtype=np.int64)
            ranks[np.argsort(-row, kind="stable")] = np.arange(1, len(codes) + 1)
            out.append({items(c).id: int(r) for c, r in zip(codes, ranks)})
    return out


def training_examples(model, evidence_model, data: SequenceDataset, items: Items, ranker, per_user: int
                      ) -> list[RankingExample]:
    """Cut points inside each user's training sequence: (history before, next item) with the retriever's top-20."""
    cuts = [(u, k) for u, seq in enumerate(data.train) for k in range(max(1, len(seq) - per_user), len(seq))]
    histories = [data.train[u][:k] for u, k in cuts]
    tops = top_candidates(model, histories)
    for (u, k), top in zip(cuts, tops):
        target = data.train[u][k]
        if target not in top:
            top[-1] = target
    evidence = evidence_ranks(evidence_model, items, histories, tops)
    return [_example(ranker, items, data.user_ids[u], history, [int(c) for c in top], data.train[u][k], "train", ev)
            for (u, k), history, top, ev in zip(cuts, histories, tops, evidence)]


def _example(ranker, items: Items, user: str, history: list[int], codes: list[int], target: int, split: str,
             collab_rank: dict[str, int]) -> RankingExample:
    prompt, shown = ranker.build_prompt("", [items(h) for h in history], [items(c) for c in codes],
                                        collab_rank=collab_rank)
    target_id = items(target).id
    letter = next(letter for letter, item_id in shown if item_id == target_id)
    return RankingExample(user, prompt.text, target_id, letter, tuple(letter for letter, _ in shown), split)


# ---- scoring ------------------------------------------------------------------------------------------------------

def llm_logprobs(ranker, items: Items, histories: list[list[int]], lists: np.ndarray, evidence: list[dict],
                 label: str) -> np.ndarray:
    """(U, n) letter log-probabilities of each list's candidates, in the list's (retriever) order."""
    out = np.zeros(lists.shape, dtype=np.float64)
    t0 = time.perf_counter()
    for j, (history, codes) in enumerate(zip(histories, lists)):
        cands = [items(c) for c in codes]
        result = ranker.rank("", [items(h) for h in history], cands, collab_rank=evidence[j])
        out[j] = [result.logprobs[c.id] for c in cands]
        if (j + 1) % 10 == 0 or j + 1 == len(lists):
            print(f"  {label}: {j + 1}/{len(lists)} lists, {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                  flush=True)
    return out


def fused_ranks(logprobs: np.ndarray, target_col: np.ndarray, w: float) -> np.ndarray:
    """0-based rank of the target after fusing letter logprobs with the retriever's order (columns = its order)."""
    prior = -w * np.log1p(np.arange(logprobs.shape[1], dtype=np.float64))
    return target_ranks(logprobs + prior[None, :], target_col)


def evidence_only_ranks(evidence: list[dict[str, int]], items: Items, lists: np.ndarray, target_col: np.ndarray,
                        levels: bool) -> np.ndarray:
    """0-based target ranks with no LLM: by the evidence model's order, or by the levels the prompt shows with ties
    in the list's (retriever) order."""
    if levels:
        value = {"very high": 3, "high": 2, "medium": 1, "low": 0}
        rows = []
        for codes, ev in zip(lists, evidence):
            ids = [items(c).id for c in codes]
            shown = evidence_levels(ids, ev)
            rows.append([value[shown[i]] for i in ids])
        scores = np.array(rows, dtype=np.float64)
        scores -= np.arange(lists.shape[1])[None, :] * 1e-3  # ties: the retriever's order
    else:
        scores = -np.array([[ev[items(c).id] for c in codes] for codes, ev in zip(lists, evidence)], dtype=np.float64)
    return target_ranks(scores, target_col)


def ndcg10(ranks: np.ndarray) -> float:
    return ranking_metrics(ranks, (10,))["NDCG@10"]


def best_prior(logprobs: np.ndarray, target_col: np.ndarray) -> tuple[float, dict[str, float]]:
    curve = {str(w): round(ndcg10(fused_ranks(logprobs, target_col, w)), 4) for w in PRIOR_GRID}
    return max(PRIOR_GRID, key=lambda w: (curve[str(w)], -w)), curve


# ---- main ---------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    import torch

    torch.set_num_threads(args.threads)
    path = args.data or REPO.parent / "shared" / "data" / DATASET
    if not path.exists():
        raise SystemExit(f"data not found: {path} does not exist. Put the {DATASET} release there "
                         "(see shared/data/README.md) or pass --data PATH.")
    from llmrec.catalog.movielens import read_movielens
    from llmrec.prompts import default_library
    from llmrec.ranking.backends import open_backend
    from llmrec.ranking.ranker import LLMRanker

    adapter_given = None
    if args.adapter:  # a typo fails now, not after fitting the retriever
        from llmrec.adapters import resolve_adapter

        adapter_given = resolve_adapter(args.adapter)
    catalog, interactions = read_movielens(path)
    data = build_dataset(interactions, tie_break="item")
    items = Items(catalog, data)
    print(f"{DATASET}: {data.stats['users']} users, {data.stats['items']} items after 5-core", file=sys.stderr)
    retriever_config = SequentialConfig(architecture="sasrec", dropout=0.3).model_copy(update={"seed": args.seed})
    t0 = time.perf_counter()
    retriever, cached = fitted_sasrec(data, retriever_config, args.cache, log=lambda s: print(s, file=sys.stderr))
    retriever_seconds = time.perf_counter() - t0
    ease = fitted_ease(data)

    # Validation lists: the retriever's top-20 for the training sequence; keep users whose validation item is in it.
    valid_hist, valid_targets = data.inputs("valid")
    valid_top = top_candidates(retriever, valid_hist)
    valid_hit = [j for j in range(len(valid_targets)) if valid_targets[j] in valid_top[j]]
    rng = np.random.default_rng(args.seed)
    valid_rows = sorted(rng.permutation(valid_hit)[: args.valid_users].tolist())
    valid_cols = np.array([int(np.flatnonzero(valid_top[j] == valid_targets[j])[0]) for j in valid_rows])
    valid_ev = evidence_ranks(ease, items, [valid_hist[j] for j in valid_rows], valid_top[valid_rows])

    base_cfg = RankerConfig(model=args.model, retrieval_prior=0.0, seed=args.seed, threads=args.threads)
    library = default_library()
    adapter_path, training = None, None
    if args.train is not None:
        from llmrec.training.run import ChatFormatter
        from llmrec.training.trainer import AdapterTrainer

        formatter_ranker = LLMRanker(ChatFormatter(args.model), library, base_cfg)
        t1 = time.perf_counter()
        train = training_examples(retriever, ease, data, items, formatter_ranker, args.examples_per_user)
        order = np.random.default_rng(args.seed).permutation(len(train))  # a cap keeps a spread over users
        if args.max_train_examples:
            train = [train[i] for i in sorted(order[: args.max_train_examples])]
        valid = [_example(formatter_ranker, items, data.user_ids[data.eval_rows[j]], valid_hist[j],
                          [int(c) for c in valid_top[j]], int(valid_targets[j]), "valid", ev)
                 for j, ev in zip(valid_rows, valid_ev)]
        config = LLMRecConfig()
        config.ranker = base_cfg.model_copy()
        config.train = config.train.model_copy(update={**TRAINING, "seed": args.seed})
        print(f"training on {len(train)} examples, validating on {len(valid)}", file=sys.stderr)
        trainer = AdapterTrainer(config, args.model, args.train, progress=_progress, log=lambda s: print(
            s, file=sys.stderr, flush=True), overwrite=args.force)
        provenance = {"dataset": DATASET, "protocol": "LlamaRec (5-core, leave-one-out, ties by item id)",
                      "retriever": "SASRec " + json.dumps(retriever_config.model_dump()),
                      "collaborative_evidence": "EASE " + json.dumps(ease.config.model_dump()),
                      "data_fingerprint": data.fingerprint(), "examples_per_user": args.examples_per_user,
                      "command": _command(argv)}
        manifest = trainer.train(train, valid, examples_hash(train + valid), resume=args.resume,
                                 training_data=provenance)
        training = {"seconds": round(time.perf_counter() - t1, 1), "train_examples": len(train),
                    "valid_examples": len(valid), "metrics": manifest["metrics"], "out": str(args.train),
                    "hyperparameters": config.train.model_dump(mode="json")}
        adapter_path = Path(args.train)
    elif args.adapter:
        adapter_path = adapter_given

    rankers = {"base": LLMRanker(open_backend(base_cfg), library, base_cfg)}
    if adapter_path is not None:
        rankers["adapter"] = LLMRanker(open_backend(base_cfg, adapter=adapter_path), library, base_cfg)

    # Pick each model's retrieval-prior weight on validation.
    valid_lp = {name: llm_logprobs(r, items, [valid_hist[j] for j in valid_rows], valid_top[valid_rows], valid_ev,
                                   f"valid/{name}") for name, r in rankers.items()}
    priors = {name: best_prior(lp, valid_cols) for name, lp in valid_lp.items()}
    retriever_valid = ndcg10(valid_cols)

    # Test: full ranking by the retriever, then re-rank the top-20 where the target is in it.
    test_hist, test_targets = data.inputs("test")
    retr_ranks = full_ranking_ranks(retriever, test_hist, test_targets, users=data.eval_rows.tolist())
    test_top = top_candidates(retriever, test_hist)
    hit = np.array([j for j in range(len(test_targets)) if test_targets[j] in test_top[j]], dtype=np.int64)
    if args.test_users:
        hit = hit[: args.test_users]
    # The target's column in the list the LLM sees (the full-ranking rank counts ties against the target, the
    # list breaks them by position; they differ only on an exact score tie).
    hit_cols = np.array([int(np.flatnonzero(test_top[j] == test_targets[j])[0]) for j in hit], dtype=np.int64)
    test_ev = evidence_ranks(ease, items, [test_hist[j] for j in hit], test_top[hit])
    test_lp = {name: llm_logprobs(r, items, [test_hist[j] for j in hit], test_top[hit], test_ev, f"test/{name}")
               for name, r in rankers.items()}
    rows: dict[str, dict] = {"retriever (SASRec order)": _row(retr_ranks, hit, hit_cols, None)}
    for label, levels in (("evidence alone: EASE order, no LLM", False),
                          ("evidence levels as shown, ties by retriever, no LLM", True)):
        rows[label] = _row(retr_ranks, hit, evidence_only_ranks(test_ev, items, test_top[hit], hit_cols, levels),
                           None)
    inside: dict[str, np.ndarray] = {"retriever": hit_cols}
    for name in rankers:
        for label, w in (("LLM alone, w = 0", 0.0), (f"w = {priors[name][0]:g} (validated)", priors[name][0])):
            new = fused_ranks(test_lp[name], hit_cols, w)
            rows[f"{name} ranker, {label}"] = _row(retr_ranks, hit, new, w)
            inside[f"{name}@{w:g}"] = new

    comparisons = {}
    if "adapter" in rankers:
        wa, wb = priors["adapter"][0], priors["base"][0]
        comparisons = {
            "adapter(w*) - retriever": paired_difference(per_user_ndcg(inside[f"adapter@{wa:g}"], 10), per_user_ndcg(hit_cols, 10)),
            "adapter(0) - base(0)": paired_difference(per_user_ndcg(inside["adapter@0"], 10), per_user_ndcg(inside["base@0"], 10)),
            "adapter(w*) - base(w*)": paired_difference(per_user_ndcg(inside[f"adapter@{wa:g}"], 10),
                                             per_user_ndcg(inside[f"base@{wb:g}"], 10)),
            "adapter(w*) - EASE order, no LLM": paired_difference(
                per_user_ndcg(inside[f"adapter@{wa:g}"], 10),
                per_user_ndcg(evidence_only_ranks(test_ev, items, test_top[hit], hit_cols, False), 10)),
        }

    sampled = {}
    if args.sampled_users:
        cands = sample_candidates(data, "test", negatives=NEGATIVES, seed=args.seed)[: args.sampled_users]
        perm = np.random.default_rng(args.seed + 1).permuted(np.tile(np.arange(cands.shape[1]), (len(cands), 1)),
                                                              axis=1)
        lists = np.take_along_axis(cands, perm, axis=1)  # shuffled: the target's column is where 0 went
        cols = np.argmin(perm, axis=1)
        sampled_ev = evidence_ranks(ease, items, test_hist[: len(lists)], lists)
        for name, r in rankers.items():
            lp = llm_logprobs(r, items, test_hist[: len(lists)], lists, sampled_ev, f"sampled/{name}")
            ranks = target_ranks(lp, cols)
            metrics = ranking_metrics(ranks, KS)
            sampled[name] = {**{f"NDCG@{k}": round(metrics[f"NDCG@{k}"], 4) for k in KS},
                             "NDCG@10_se": round(float(per_user_ndcg(ranks, 10).std(ddof=1) / math.sqrt(len(ranks))), 4),
                             "ranks": ranks.tolist()}
        sampled["random (exact)"] = {f"NDCG@{k}": round(random_order_ndcg(k, 1 + NEGATIVES), 4) for k in KS}

    report = {
        "dataset": DATASET, "data": str(path), "command": _command(argv), "seed": args.seed,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "threads": args.threads, "load_average_at_start": load_at_start,
                    "load_average_at_end": round(os.getloadavg()[0], 2)},
        "versions": _versions(), "counts": data.stats,
        "retriever": {"config": retriever_config.model_dump(), "loaded_from_cache": cached,
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
    from _provenance import write_report

    write_report(args.out / f"{DATASET}-llamarec-ranker", report, markdown)
    return 0


def _row(full_ranks: np.ndarray, hit: np.ndarray, inside_ranks: np.ndarray, w: float | None) -> dict:
    """Full-protocol metrics with the re-ranked users' ranks replaced, plus metrics on those users alone."""
    ranks = full_ranks.copy()
    ranks[hit] = inside_ranks
    full = ranking_metrics(ranks, FULL_KS)
    inner = ranking_metrics(inside_ranks, (1, 5, 10))
    return {"prior": w, "full": {k: round(v, 4) for k, v in full.items()},
            "inside_top20": {k: round(v, 4) for k, v in inner.items()}}


def _progress(iterable, total, desc):
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, mininterval=5)


def _command(argv) -> str:
    return "python " + " ".join(shlex.quote(a) for a in ["eval/ranker_protocol.py",
                                                          *(sys.argv[1:] if argv is None else argv)])


def _versions() -> dict[str, str]:
    from _provenance import versions

    return versions(("torch", "transformers", "peft", "numpy"))


def markdown(report: dict) -> str:
    t, v = report["test"], report["validation"]
    m = report["machine"]
    lines = [f"# LLM ranker on the LlamaRec protocol ({report['dataset']})", "",
             f"Command: `{report['command']}`  ",
             f"Seed {report['seed']}, {m['threads']} torch thread(s) on {m['cpus']} CPUs, 1-min load average "
             f"{m['load_average_at_start']} at start / {m['load_average_at_end']} at end, wall time "
             f"{report['wall_seconds']:.0f} s, {report['created']}  ",
             "Versions: " + ", ".join(f"{k} {x}" for k, x in report["versions"].items()), "",
             f"Retriever: llmrec SASRec (config as in `ml-latest-small-llamarec.md`), "
             f"{'loaded from the cache' if report['retriever']['loaded_from_cache'] else 'fitted in this run'} "
             f"({report['retriever']['seconds']:.0f} s). Ranker: {report['ranker']['model']}"
             + (f" + adapter `{report['adapter']}`" if report["adapter"] else "") + ".", ""]
    ev = report.get("collaborative_evidence")
    if ev:
        lines += [f"Collaborative evidence on every option: EASE's level among the options (λ {ev['config']['l2']:g}, "
                  f"decay {ev['config']['decay']:g}, chosen on validation), shown as \"(similar users: very high / "
                  "high / medium / low)\" after each shuffled option's letter.", ""]
    tr = report["training"]
    if tr:
        mt = tr["metrics"]
        steps = mt.get("steps_run", mt["steps"])
        curve = ", ".join(f"{e['ndcg@10']:.4f} @ {e['step']}" for e in mt.get("evals", []))
        lines += [f"Training: {tr['train_examples']} examples (retriever top-20 hard negatives, cut points inside "
                  f"the training sequences), {tr['valid_examples']} validation users, {steps} optimiser "
                  f"steps (validation NDCG@10 by step: {curve}), best {mt['best_valid_ndcg@10']:.4f} at step "
                  f"{mt['best_step']}, kept; "
                  f"**{tr['seconds'] / 60:.1f} min** wall (examples + training + validations).", ""]
    lines += [f"## Full ranking, test ({t['users']} users; {t['users_target_in_top20']} have the target in the "
              "retriever's top-20 and are re-ranked, the rest keep the retriever's rank)", "",
              "| method | M@5 | N@5 | R@5 | M@10 | N@10 | R@10 | R@20 | N@10 inside top-20 | N@1 inside |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in t["rows"].items():
        f, i = row["full"], row["inside_top20"]
        lines.append(f"| {name} | {f['MRR@5']:.4f} | {f['NDCG@5']:.4f} | {f['Recall@5']:.4f} | {f['MRR@10']:.4f} | "
                     f"{f['NDCG@10']:.4f} | {f['Recall@10']:.4f} | {f['Recall@20']:.4f} | {i['NDCG@10']:.4f} | "
                     f"{i['NDCG@1']:.4f} |")
    for name, a in report["anchors"].items():
        lines.append(f"| {name} | | | | {a['MRR@10']:.4f} | {a['NDCG@10']:.4f} | {a['Recall@10']:.4f} | | | |")
    lines += ["", f"Random order inside the top-20 would give N@10 {random_order_ndcg(10, 20):.4f} there.", ""]
    if t["paired_NDCG@10_inside"]:
        lines += ["Paired per-user NDCG@10 differences on the re-ranked users (mean ± SE, z = mean/SE):", "",
                  "| pair | mean | SE | z |", "|---|---:|---:|---:|"]
        for pair, d in t["paired_NDCG@10_inside"].items():
            lines.append(f"| {pair} | {d['mean']:+.4f} | {d['se']:.4f} | {d['z']} |")
        lines.append("")
    lines += [f"Validation ({v['users']} users whose validation item is in the top-20; retriever order N@10 "
              f"{v['retriever_NDCG@10']:.4f}): NDCG@10 by retrieval-prior weight w", "",
              "| model | " + " | ".join(f"w={w}" for w in next(iter(v["prior_curves"].values()))) + " | chosen |",
              "|---|" + "---:|" * (len(next(iter(v["prior_curves"].values()))) + 1)]
    for name, curve in v["prior_curves"].items():
        lines.append(f"| {name} | " + " | ".join(f"{x:.4f}" for x in curve.values())
                     + f" | {v['chosen_prior'][name]:g} |")
    if report["sampled20"]:
        lines += ["", "## Sampled-20 (test target + 19 never-seen negatives, shuffled; LLM alone, w = 0)", "",
                  "| model | N@1 | N@5 | N@10 (± SE) |", "|---|---:|---:|---:|"]
        for name, s in report["sampled20"].items():
            se = f" ± {s['NDCG@10_se']:.4f}" if "NDCG@10_se" in s else ""
            lines.append(f"| {name} | {s['NDCG@1']:.4f} | {s['NDCG@5']:.4f} | {s['NDCG@10']:.4f}{se} |")
    lines += ["", *_targets(report), ""]
    return "\n".join(lines)


def _targets(report: dict) -> list[str]:
    """Issue 5's targets, checked against this report's numbers (only when an adapter was evaluated)."""
    rows, sampled = report["test"]["rows"], report["sampled20"]
    adapter = {k: v for k, v in rows.items() if k.startswith("adapter ranker")}
    if not adapter:
        return []
    inside = {k: v["inside_top20"]["NDCG@10"] for k, v in rows.items()}
    validated = next(k for k in adapter if "validated" in k)
    base_alone = next(k for k in rows if k.startswith("base ranker") and "alone" in k)
    adapter_alone = next(k for k in adapter if "alone" in k)
    retriever = inside["retriever (SASRec order)"]
    gain = inside[adapter_alone] / inside[base_alone] - 1 if inside[base_alone] else float("nan")
    checks = [
        ("adapter beats the retriever's own order on the re-ranked users (N@10)",
         inside[validated] > retriever, f"{inside[validated]:.4f} vs {retriever:.4f}"),
        ("adapter beats the base model by ≥ 20% relative (LLM alone, N@10 inside the top-20)",
         gain >= 0.2, f"{inside[adapter_alone]:.4f} vs {inside[base_alone]:.4f}, {gain:+.0%}"),
    ]
    if "adapter" in sampled:
        rnd = sampled["random (exact)"]["NDCG@10"]
        a = sampled["adapter"]
        checks.append(("sampled-20 N@10 well above random (2 SE)", a["NDCG@10"] - 2 * a["NDCG@10_se"] > rnd,
                       f"{a['NDCG@10']:.4f} ± {a['NDCG@10_se']:.4f} vs {rnd:.4f}"))
    return ["Targets (issue 5):", ""] + [f"- {'met' if ok else '**not met**'}: {name} — {detail}"
                                        for name, ok, detail in checks]


if __name__ == "__main__":
    raise SystemExit(main())
